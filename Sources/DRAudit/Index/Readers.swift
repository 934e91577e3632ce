import DRAuditCore
import Foundation
import GRDB
import GRDBSQLite

/// Reading what the latest successful scans left present, for pairs, the audit, reports and metrics.
extension Index {
    public struct ScanRecord: Sendable {
        public var id: Int64
        public var source: String
        public var location: String
        public var startedAt: Date
        public var finishedAt: Date
        public var ok: Bool
        public var seen: Int
        public var added: Int
        public var gone: Int
        public var errorCode: String?
        public var error: String?
    }

    public func lastScan(source: String) throws -> ScanRecord? {
        try guarded {
            try queue.read { db in
                try GRDB.Row.fetchOne(
                    db,
                    sql: """
                        SELECT id, source, location, started_at, finished_at, status, objects_seen, objects_added, objects_gone, error_code, error
                        FROM scans WHERE source = ? ORDER BY id DESC LIMIT 1
                        """, arguments: [source]
                ).map { row in
                    ScanRecord(
                        id: row[0], source: row[1], location: row[2], startedAt: Date(timeIntervalSince1970: row[3]),
                        finishedAt: Date(timeIntervalSince1970: row[4]), ok: row[5] == "ok", seen: row[6],
                        added: row[7],
                        gone: row[8], errorCode: row[9], error: row[10])
                }
            }
        }
    }

    /// The management backups present on a target (as of its latest successful scan), oldest first.
    public func presentBackups(source: String) throws -> [Row] {
        try guarded {
            try queue.read { db in
                try GRDB.Row.fetchAll(
                    db,
                    sql: """
                        SELECT backup_id, kind, time, payload FROM backups WHERE source = ? AND gone_scan IS NULL ORDER BY time, backup_id
                        """, arguments: [source]
                ).map { Row(key: $0[0], kind: $0[1], time: $0[2], payload: $0[3]) }
            }
        }
    }

    /// The portal backup files present on a target, from `portal_files` (four integers a file; names once).
    /// Rows are stepped with SQLite's own calls: at a million files, a decoded row each costs more than the whole
    /// audit. Sorting is left to the inventory, which sorts compact entries faster than SQLite sorts rows.
    public func presentPortalInventory(source: String) throws -> PortalInventory {
        try guarded {
            try queue.read { db in
                // One pass over the rows: a page cache would only hold pages this read never comes back to.
                try db.execute(sql: "PRAGMA cache_size = -1000")
                defer { try? db.execute(sql: "PRAGMA cache_size = \(Self.cachePages)") }
                var names: [Int64: String] = [:]
                // Every site and folder ever seen: a few thousand rows at most, against a million files.
                for row in try GRDB.Row.fetchAll(db, sql: "SELECT id, text FROM portal_names") {
                    names[row[0]] = row[1]
                }
                var inventory = PortalInventory()
                let statement = try db.makeStatement(
                    sql: "SELECT time, site_id, folder_id, size FROM portal_files WHERE source = ?")
                try statement.setArguments([source])
                let s = statement.sqliteStatement
                while true {
                    let code = sqlite3_step(s)
                    if code == SQLITE_DONE { break }
                    guard code == SQLITE_ROW else {
                        throw DatabaseError(
                            resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql)
                    }
                    try inventory.append(
                        folderID: sqlite3_column_int64(s, 2),
                        siteID: sqlite3_column_type(s, 1) == SQLITE_NULL ? nil : sqlite3_column_int64(s, 1),
                        seconds: sqlite3_column_int64(s, 0), size: sqlite3_column_int64(s, 3)
                    ) { id in
                        guard let name = names[id] else {
                            throw DRAuditError(
                                "index \(path): a portal file names a missing site or folder; was the index edited by hand?",
                                code: Index.errorCode)
                        }
                        return name
                    }
                }
                inventory.sort()
                return inventory
            }
        }
    }

    /// The WAL segments present on a management target, as runs of consecutive segments: each archive's rows are
    /// stepped in the table's own order (archive, timeline, position), and no row becomes more than a comparison.
    /// With `unreadable` segments, also the inventory without them, built in the same pass (its runs end at the
    /// segment before each, with that segment's archive time).
    public func presentWALInventory(source: String, unreadable: Set<WALPosition> = []) throws -> (
        all: WALInventory, readable: WALInventory?
    ) {
        try guarded {
            try queue.read { db in
                try db.execute(sql: "PRAGMA cache_size = -1000")
                defer { try? db.execute(sql: "PRAGMA cache_size = \(Self.cachePages)") }
                var inventory = WALInventory()
                var readable = WALInventory()
                var skip: Set<WALSegment> = []
                let archives = try GRDB.Row.fetchAll(
                    db, sql: "SELECT id, name FROM wal_archives WHERE source = ? ORDER BY id", arguments: [source])
                let statement = try db.makeStatement(
                    sql:
                        "SELECT timeline, segment, time FROM wal_segments WHERE archive_id = ? ORDER BY timeline, segment"
                )
                let s = statement.sqliteStatement
                for archive in archives {
                    let name: String = archive[1]
                    skip = Set(unreadable.filter { $0.archive == name }.map(\.segment))
                    try statement.setArguments([archive[0] as Int64])
                    while true {
                        let code = sqlite3_step(s)
                        if code == SQLITE_DONE { break }
                        guard code == SQLITE_ROW else {
                            throw DatabaseError(
                                resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql
                            )
                        }
                        let timeline = UInt32(truncatingIfNeeded: sqlite3_column_int64(s, 0))
                        let number = UInt64(bitPattern: sqlite3_column_int64(s, 1))
                        let time = sqlite3_column_int64(s, 2)
                        inventory.add(archive: name, timeline: timeline, number: number, time: time)
                        if !unreadable.isEmpty && !skip.contains(WALSegment(timeline: timeline, number: number)) {
                            readable.add(archive: name, timeline: timeline, number: number, time: time)
                        }
                    }
                    sqlite3_reset(s)
                }
                inventory.finish()
                readable.finish()
                return (inventory, unreadable.isEmpty ? nil : readable)
            }
        }
    }

    /// Hands over the present segments of one archive and timeline from `from` on, in position order, with their
    /// keys, until `each` says it needs no more.
    public func presentWALSegments(
        source: String, archive: String, from: WALSegment, _ each: (ReplayWAL.Segment) -> Bool
    ) throws {
        try guarded {
            try queue.read { db in
                let cursor = try GRDB.Row.fetchCursor(
                    db,
                    sql: """
                        SELECT o.key, o.size, w.segment, w.time
                        FROM wal_archives a JOIN wal_segments w ON w.archive_id = a.id
                                            JOIN objects o ON o.id = w.object_id
                        WHERE a.source = ? AND a.name = ? AND w.timeline = ? AND w.segment >= ?
                          AND o.gone_scan IS NULL
                        ORDER BY w.segment, o.id
                        """,
                    arguments: [source, archive, Int64(from.timeline), Int64(bitPattern: from.number)])
                while let row = try cursor.next() {
                    let segment = ReplayWAL.Segment(
                        key: row[0], size: row[1],
                        segment: WALSegment(timeline: from.timeline, number: UInt64(bitPattern: row[2] as Int64)),
                        time: row[3])
                    if each(segment) { break }
                }
            }
        }
    }

    /// How many objects (or, for `cluster`, backup CRs) are present for a source.
    public func presentCount(source: String) throws -> Int {
        try guarded {
            try queue.read { db in
                source == "cluster"
                    ? try Int.fetchOne(db, sql: "SELECT count(*) FROM cluster_records WHERE gone_scan IS NULL") ?? 0
                    : try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM objects WHERE source = ? AND gone_scan IS NULL",
                        arguments: [source]) ?? 0
            }
        }
    }

    /// The present keys of a source at which its key space splits into `parts` ranges of equal counts (see
    /// `KeyRanges.cutRanks`); none when there are too few keys to be worth it. Read in key order from the
    /// objects_present index, one key held at a time.
    public func keyCuts(source: String, parts: Int) throws -> [String] {
        let ranks = KeyRanges.cutRanks(count: try presentCount(source: source), parts: parts)
        guard let last = ranks.last else { return [] }
        return try guarded {
            try queue.read { db in
                var cuts: [String] = []
                var wanted = ranks.makeIterator()
                var next = wanted.next()
                let keys = try String.fetchCursor(
                    db, sql: "SELECT key FROM objects WHERE source = ? AND gone_scan IS NULL ORDER BY key LIMIT ?",
                    arguments: [source, last + 1])
                var rank = 0
                while let key = try keys.next(), let target = next {
                    if rank == target {
                        cuts.append(key)
                        next = wanted.next()
                    }
                    rank += 1
                }
                return cuts
            }
        }
    }

    /// Present objects that need an operator's eye: unrecognized names, and metadata files of zero bytes.
    public func attentionObjects(source: String) throws -> (
        unrecognized: [StorageObject], emptyMetadata: [StorageObject]
    ) {
        try guarded {
            try queue.read { db in
                let rows = try GRDB.Row.fetchAll(
                    db,
                    sql: """
                        SELECT key, size, kind, special FROM objects WHERE source = ? AND gone_scan IS NULL AND kind = 'unrecognized'
                        UNION ALL
                        SELECT key, size, kind, NULL FROM objects WHERE source = ? AND gone_scan IS NULL AND size = 0
                            AND kind IN ('pgbackrest-info', 'pgbackrest-manifest', 'barman-info')
                        """, arguments: [source, source])
                // Two SELECTs, not an OR, and sorted here: either would make SQLite walk every key of the source.
                var unrecognized: [StorageObject] = []
                var empty: [StorageObject] = []
                for row in rows {
                    let object = StorageObject(
                        key: row[0], size: row[1], mtime: nil,
                        special: (row[3] as String?).flatMap(SpecialFile.init(rawValue:)))
                    if row[2] == "unrecognized" { unrecognized.append(object) } else { empty.append(object) }
                }
                return (unrecognized.sorted { $0.key < $1.key }, empty.sorted { $0.key < $1.key })
            }
        }
    }

    public func presentClusterPayloads() throws -> [(kind: String, payload: String)] {
        var out: [(kind: String, payload: String)] = []
        try presentClusterRecords { out.append(($0, $1)) }
        return out
    }

    /// Hands over the present cluster records one by one, as they are read: 100,000 CRs never sit in memory twice.
    public func presentClusterRecords(_ each: (_ kind: String, _ payload: String) throws -> Void) throws {
        try guarded {
            try queue.read { db in
                let rows = try GRDB.Row.fetchCursor(
                    db, sql: "SELECT kind, payload FROM cluster_records WHERE gone_scan IS NULL ORDER BY kind, name")
                while let row = try rows.next() { try each(row[0], row[1]) }
            }
        }
    }
}
