import DRAuditCore
import Foundation
import GRDB
import GRDBSQLite

/// Writing scans: storage listings staged and committed in one transaction, cluster records, failed scans.
extension Index {
    public struct ScanCounts: Sendable, Equatable {
        public var scanID: Int64
        public var seen: Int
        public var added: Int
        public var gone: Int
    }

    /// A record parsed from storage or the cluster. A record whose content changes is stored as a new version.
    public struct Row: Sendable {
        public var key: String
        public var kind: String
        public var time: Double?
        public var phase: String?
        public var payload: String?
        public init(key: String, kind: String, time: Double? = nil, phase: String? = nil, payload: String? = nil) {
            self.key = key
            self.kind = kind
            self.time = time
            self.phase = phase
            self.payload = payload
        }
    }

    /// A listed object with what the scanner parsed from its name.
    public struct StagedObject: Sendable {
        public var object: StorageObject
        public var kind: ObjectKind
        /// Portal backup files: the time and site in the name.
        public var time: Double?
        public var site: String?
        /// WAL segments: the archive (the start of the key) and the segment.
        public var wal: (archive: Substring, segment: WALSegment)?
        public init(_ object: StorageObject, _ kind: ObjectKind, time: Double? = nil, site: String? = nil) {
            self.object = object
            self.kind = kind
            self.time = time
            self.site = site
        }
    }

    /// Starts a storage scan: listed objects are staged in TEMP tables (no lock on the index, memory bounded
    /// by SQLite's cache) and `commit` compares them with the index in SQL, in one short transaction.
    public func beginStorageScan(source: String, location: String, started: Date) throws -> StorageScanWriter {
        try StorageScanWriter(index: self, source: source, location: location, started: started)
    }

    public final class StorageScanWriter {
        let index: Index
        let source: String
        let location: String
        let started: Date
        private var open = true
        /// WAL archives staged so far, numbered in `staged_archives`.
        private var archiveNumbers: [Substring: Int] = [:]

        fileprivate init(index: Index, source: String, location: String, started: Date) throws {
            self.index = index
            self.source = source
            self.location = location
            self.started = started
            try index.guarded {
                try index.queue.inDatabase { db in
                    try db.execute(
                        sql: """
                            DROP TABLE IF EXISTS temp.staged_objects;
                            DROP TABLE IF EXISTS temp.staged_backups;
                            DROP TABLE IF EXISTS temp.staged_archives;
                            CREATE TEMP TABLE staged_objects (key TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL, kind TEXT NOT NULL,
                                                              time REAL, site TEXT, archive INTEGER, timeline INTEGER,
                                                              segment INTEGER, special TEXT);
                            CREATE TEMP TABLE staged_archives (number INTEGER PRIMARY KEY, name TEXT NOT NULL);
                            CREATE TEMP TABLE staged_backups (backup_id TEXT PRIMARY KEY, kind TEXT NOT NULL, time REAL NOT NULL,
                                                              payload TEXT NOT NULL);
                            """)
                }
            }
        }

        deinit { discard() }

        /// Adds a batch of listed objects (with their portal parse, when they are portal files) and
        /// management backups. Writes only TEMP tables.
        public func stage(_ objects: [StagedObject], backups: [Row] = []) throws {
            try index.guarded {
                try index.queue.inDatabase { db in
                    try db.inTransaction(.deferred) {
                        let object = try db.cachedStatement(
                            sql: """
                                INSERT INTO temp.staged_objects (key, size, mtime, kind, time, site, archive, timeline, segment, special)
                                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                                """)
                        let archive = try db.cachedStatement(
                            sql: "INSERT INTO temp.staged_archives (number, name) VALUES (?, ?)")
                        for o in objects {
                            let mtime = o.object.mtime.map { ($0.timeIntervalSince1970 * 1000).rounded() / 1000 }
                            var number: Int?
                            if let wal = o.wal {
                                number = archiveNumbers[wal.archive]
                                if number == nil {
                                    number = archiveNumbers.count
                                    archiveNumbers[wal.archive] = number
                                    try archive.execute(arguments: [number, String(wal.archive)])
                                }
                            }
                            try Self.insert(
                                object, db: db, o.object.key, o.object.size, mtime, o.kind.rawValue, o.time, o.site,
                                number, o.wal.map { Int64($0.segment.timeline) },
                                o.wal.map { Int64($0.segment.number) },
                                o.object.special?.rawValue)
                        }
                        let backup = try db.cachedStatement(
                            sql: """
                                INSERT OR IGNORE INTO temp.staged_backups (backup_id, kind, time, payload) VALUES (?, ?, ?, ?)
                                """)
                        for b in backups {
                            try backup.execute(arguments: [b.key, b.kind, b.time ?? 0, b.payload ?? "{}"])
                        }
                        return .commit
                    }
                }
            }
        }

        /// One staged row, bound straight to SQLite: a million rows through `StatementArguments` cost a boxed
        /// value and an array per row, a tenth of an unchanged rescan.
        private static func insert(
            _ statement: Statement, db: Database, _ key: String, _ size: Int64, _ mtime: Double?, _ kind: String,
            _ time: Double?, _ site: String?, _ archive: Int?, _ timeline: Int64?, _ segment: Int64?,
            _ special: String?
        ) throws {
            let s = statement.sqliteStatement
            func text(_ i: Int32, _ value: String?) {
                guard var value else {
                    sqlite3_bind_null(s, i)
                    return
                }
                value.withUTF8 { u in
                    guard let base = u.baseAddress, !u.isEmpty else {
                        _ = sqlite3_bind_text(s, i, "", 0, transient)
                        return
                    }
                    _ = sqlite3_bind_text(
                        s, i, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(u.count), transient)
                }
            }
            func integer(_ i: Int32, _ value: Int64?) {
                if let value { sqlite3_bind_int64(s, i, value) } else { sqlite3_bind_null(s, i) }
            }
            func real(_ i: Int32, _ value: Double?) {
                if let value { sqlite3_bind_double(s, i, value) } else { sqlite3_bind_null(s, i) }
            }
            text(1, key)
            integer(2, size)
            real(3, mtime)
            text(4, kind)
            real(5, time)
            text(6, site)
            integer(7, archive.map(Int64.init))
            integer(8, timeline)
            integer(9, segment)
            text(10, special)
            let code = sqlite3_step(s)
            sqlite3_reset(s)
            guard code == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql)
            }
        }

        /// SQLite copies the text before the call returns.
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

        /// Writes the scan in one transaction: its row, the objects and backups that are new or changed,
        /// and the ones that went (marked by this scan). An unchanged target adds only the scan row.
        public func commit() throws -> ScanCounts {
            defer { discard() }
            return try index.guarded {
                try index.queue.write { db in
                    let scan = try index.insertScan(
                        db, source: source, location: location, started: started, status: "ok", error: nil, code: nil)
                    let previous = try Int64.fetchOne(
                        db, sql: "SELECT max(id) FROM scans WHERE source = ? AND status = 'ok' AND id < ?",
                        arguments: [source, scan])
                    // Staged rows arrive in listing order (a file system's is random) and carry no index while they
                    // come: keeping one up to date costs random writes per row. It is built here in one sort, and the
                    // inserts below follow it, so the objects index is written in key order too. It carries size and
                    // mtime so that the gone check below never reads the staged rows themselves (in listing order,
                    // that was a random read per present object: 2.4 s of a 1M rescan); all columns made its sort spill.
                    // WAL segments' archive and position ride along, so the WAL sync reads them from the index too.
                    try db.execute(
                        sql: """
                            CREATE INDEX temp.staged_objects_key ON staged_objects (key, size, mtime, archive, timeline, segment)
                            """)
                    let seen = try Int.fetchOne(db, sql: "SELECT count(DISTINCT key) FROM temp.staged_objects") ?? 0
                    // Gone first: a changed object's old version goes, then the new version is inserted with the new ones.
                    try db.execute(
                        sql: """
                            UPDATE objects SET gone_scan = ?, last_seen_scan = ?
                            WHERE source = ? AND gone_scan IS NULL AND NOT EXISTS (
                                SELECT 1 FROM temp.staged_objects s WHERE s.key = objects.key AND s.size = objects.size AND s.mtime IS objects.mtime)
                            """, arguments: [scan, previous, source])
                    let gone = db.changesCount
                    // Nothing went and the counts agree: every staged key is already present (keys are unique),
                    // the common case of a nightly rescan. Skip the insert pass.
                    let present =
                        try Int.fetchOne(
                            db, sql: "SELECT count(*) FROM objects WHERE source = ? AND gone_scan IS NULL",
                            arguments: [source]) ?? 0
                    // Rows inserted below get ids above this one (INTEGER PRIMARY KEY): the portal sync finds them by range.
                    let lastID = try Int64.fetchOne(db, sql: "SELECT max(id) FROM objects") ?? 0
                    var added = 0
                    if gone > 0 || present != seen {
                        // With nothing present (a first scan, or everything went), every staged key is new.
                        let onlyNew =
                            present == 0
                            ? ""
                            : """
                            WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.source = ? AND o.key = s.key AND o.gone_scan IS NULL)
                            """
                        try db.execute(
                            sql: """
                                INSERT INTO objects (source, key, size, mtime, kind, time, site, special, first_seen_scan)
                                SELECT ?, s.key, s.size, s.mtime, s.kind, s.time, s.site, s.special, ? FROM temp.staged_objects s
                                \(onlyNew)
                                GROUP BY s.key
                                """, arguments: present == 0 ? [source, scan] : [source, scan, source])  // a key listed twice is one object
                        added = db.changesCount
                    }
                    if present > 0, try !classifierIsCurrent(db) {
                        // Written by an older classifier: re-judge what is present and rebuild the compact tables.
                        try reclassify(db)
                    } else if gone > 0 || added > 0 {
                        try syncPortalFiles(db, scan: scan, addedAfter: lastID)
                        try syncWALSegments(db, scan: scan, addedAfter: lastID)
                    }
                    try markClassifierCurrent(db)
                    try db.execute(
                        sql: """
                            UPDATE backups SET gone_scan = ?
                            WHERE source = ? AND gone_scan IS NULL AND NOT EXISTS (
                                SELECT 1 FROM temp.staged_backups s WHERE s.backup_id = backups.backup_id AND s.kind = backups.kind
                                AND s.time = backups.time AND s.payload = backups.payload)
                            """, arguments: [scan, source])
                    try db.execute(
                        sql: """
                            INSERT INTO backups (source, backup_id, kind, time, payload, first_seen_scan)
                            SELECT ?, s.backup_id, s.kind, s.time, s.payload, ? FROM temp.staged_backups s
                            WHERE NOT EXISTS (SELECT 1 FROM backups b WHERE b.source = ? AND b.backup_id = s.backup_id AND b.gone_scan IS NULL)
                            """, arguments: [source, scan, source])
                    try db.execute(
                        sql:
                            "UPDATE scans SET objects_seen = ?, objects_added = ?, objects_gone = ?, finished_at = ? WHERE id = ?",
                        arguments: [seen, added, gone, Date().timeIntervalSince1970, scan])
                    return ScanCounts(scanID: scan, seen: seen, added: added, gone: gone)
                }
            }
        }

        /// Drops what was staged; the index is untouched.
        public func discard() {
            guard open else { return }
            open = false
            try? index.queue.inDatabase { db in
                try db.execute(
                    sql: """
                        DROP TABLE IF EXISTS temp.staged_objects; DROP TABLE IF EXISTS temp.staged_backups;
                        DROP TABLE IF EXISTS temp.staged_archives
                        """)
            }
        }
    }

    /// Writes one scan of the cluster: the PortalBackup/ManagementBackup records now present.
    /// `liveKit`: what a live cluster scan read of the kit's objects (role, payload), replacing the last read; nil
    /// leaves it as it was (export files read no live objects).
    public func recordClusterScan(
        location: String, started: Date, records: [Row], liveKit: [(role: String, payload: String)]? = nil
    ) throws -> ScanCounts {
        let writer = try beginClusterScan(location: location, started: started)
        try writer.stage(records)
        return try writer.commit(liveKit: liveKit)
    }

    /// Starts a cluster scan: records are staged in a TEMP table as the export is read (no lock on the index, and
    /// a 100,000-CR export never whole in memory), and `commit` compares them with the index in SQL.
    public func beginClusterScan(location: String, started: Date) throws -> ClusterScanWriter {
        try ClusterScanWriter(index: self, location: location, started: started)
    }

    public final class ClusterScanWriter {
        let index: Index
        let location: String
        let started: Date
        private var open = true

        fileprivate init(index: Index, location: String, started: Date) throws {
            self.index = index
            self.location = location
            self.started = started
            try index.guarded {
                try index.queue.inDatabase { db in
                    try db.execute(
                        sql: """
                            DROP TABLE IF EXISTS temp.staged_records;
                            DROP TABLE IF EXISTS temp.staged_unique_records;
                            CREATE TEMP TABLE staged_records (kind TEXT NOT NULL, name TEXT NOT NULL, phase TEXT,
                                                              payload TEXT NOT NULL);
                            """)
                }
            }
        }

        deinit { discard() }

        /// Adds records, in the order read. Writes only the TEMP table.
        public func stage(_ rows: [Row]) throws {
            try index.guarded {
                try index.queue.inDatabase { db in
                    try db.inTransaction(.deferred) {
                        let insert = try db.cachedStatement(
                            sql: "INSERT INTO temp.staged_records (kind, name, phase, payload) VALUES (?, ?, ?, ?)")
                        for row in rows {
                            try insert.execute(arguments: [row.kind, row.key, row.phase, row.payload ?? "{}"])
                        }
                        return .commit
                    }
                }
            }
        }

        /// Writes the scan in one transaction: records that went or changed are marked gone by it, and the new
        /// and changed ones inserted. A record named twice counts once, as first read. `liveKit`: as for
        /// `recordClusterScan`.
        public func commit(liveKit: [(role: String, payload: String)]? = nil) throws -> ScanCounts {
            defer { discard() }
            return try index.guarded {
                try index.queue.inDatabase { db in
                    // SQLite's bare columns: each (kind, name) group's values come from its first row.
                    try db.execute(
                        sql: """
                            CREATE TEMP TABLE staged_unique_records AS
                                SELECT kind, name, phase, payload, min(rowid) AS first FROM temp.staged_records
                                GROUP BY kind, name;
                            CREATE UNIQUE INDEX temp.staged_unique_records_key ON staged_unique_records (kind, name);
                            """)
                }
                return try index.queue.write { db in
                    let scan = try index.insertScan(
                        db, source: "cluster", location: location, started: started, status: "ok", error: nil,
                        code: nil)
                    if let liveKit { try index.replaceLiveKit(db, rows: liveKit, scan: scan) }
                    let seen = try Int.fetchOne(db, sql: "SELECT count(*) FROM temp.staged_unique_records") ?? 0
                    try db.execute(
                        sql: """
                            UPDATE cluster_records SET gone_scan = ?
                            WHERE gone_scan IS NULL AND NOT EXISTS (
                                SELECT 1 FROM temp.staged_unique_records s WHERE s.kind = cluster_records.kind
                                AND s.name = cluster_records.name AND s.phase IS cluster_records.phase
                                AND s.payload = cluster_records.payload)
                            """, arguments: [scan])
                    let gone = db.changesCount
                    try db.execute(
                        sql: """
                            INSERT INTO cluster_records (kind, name, phase, payload, first_seen_scan)
                            SELECT kind, name, phase, payload, ? FROM temp.staged_unique_records s
                            WHERE NOT EXISTS (SELECT 1 FROM cluster_records c WHERE c.kind = s.kind AND c.name = s.name
                                              AND c.gone_scan IS NULL)
                            ORDER BY first
                            """, arguments: [scan])
                    let added = db.changesCount
                    try db.execute(
                        sql: "UPDATE scans SET objects_seen = ?, objects_added = ?, objects_gone = ? WHERE id = ?",
                        arguments: [seen, added, gone, scan])
                    return ScanCounts(scanID: scan, seen: seen, added: added, gone: gone)
                }
            }
        }

        /// Drops what was staged; the index is untouched.
        public func discard() {
            guard open else { return }
            open = false
            try? index.queue.inDatabase { db in
                try db.execute(
                    sql: "DROP TABLE IF EXISTS temp.staged_records; DROP TABLE IF EXISTS temp.staged_unique_records")
            }
        }
    }

    /// A failed scan records itself and nothing else.
    public func recordFailedScan(source: String, location: String, started: Date, code: String, error: String) throws {
        try guarded {
            try queue.write { db in
                _ = try insertScan(
                    db, source: source, location: location, started: started, status: "failed", error: error, code: code
                )
            }
        }
    }

    func insertScan(
        _ db: Database, source: String, location: String, started: Date, status: String,
        error: String?, code: String?
    ) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO scans (source, location, started_at, finished_at, status, error, error_code) VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                source, location, started.timeIntervalSince1970, Date().timeIntervalSince1970, status, error, code,
            ])
        return db.lastInsertedRowID
    }
}
