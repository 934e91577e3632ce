import DRAuditCore
import Foundation
import GRDB

/// The compact tables a scan commit keeps in step with `objects`: `portal_files` (with `portal_names`) and
/// `wal_segments` (with `wal_archives`), which pairs and the audit read instead of a million keys.
extension Index.StorageScanWriter {
    private static let portalKinds = "('portal-system', 'portal-site')"
    private static let walKinds = "('\(ObjectKind.pgbackrestWAL.rawValue)', '\(ObjectKind.barmanWAL.rawValue)')"

    /// This scan's new rows, by their id range (+kind: not by the kind index, which would visit every present row).
    private func added(_ kinds: String, alias: String = "") -> String {
        "\(alias)id > ? AND \(alias)source = ? AND \(alias)first_seen_scan = ? AND +\(alias)kind IN \(kinds)"
    }

    private func present(_ kinds: String, alias: String = "") -> String {
        "\(alias)source = ? AND \(alias)gone_scan IS NULL AND \(alias)kind IN \(kinds)"
    }

    // MARK: - portal_files

    /// Keeps `portal_files` in step with the portal files this scan marked gone and the ones it added.
    func syncPortalFiles(_ db: Database, scan: Int64, addedAfter lastID: Int64) throws {
        // By primary key, from the objects_gone index: neither table is walked.
        try db.execute(
            sql: """
                DELETE FROM portal_files WHERE (source, time, object_id) IN (
                    SELECT source, CAST(time AS INTEGER), id FROM objects
                    WHERE source = ? AND gone_scan = ? AND kind IN \(Self.portalKinds))
                """, arguments: [source, scan])
        try insertPortalFiles(db, rows: { self.added(Self.portalKinds, alias: $0) }, arguments: [lastID, source, scan])
    }

    /// Inserts the portal files of the objects rows that `rows` (a condition on `objects` under an alias) selects.
    private func insertPortalFiles(_ db: Database, rows: (_ alias: String) -> String, arguments: StatementArguments)
        throws
    {
        // The key's folder with its trailing slash; rtrim is slow (a pass per byte), so keys without one skip it.
        func folder(_ key: String) -> String {
            "CASE WHEN instr(\(key), '/') = 0 THEN '' ELSE rtrim(\(key), replace(\(key), '/', '')) END"
        }
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO portal_names (text)
                    SELECT site FROM objects WHERE \(rows("")) AND site IS NOT NULL
                    UNION
                    SELECT \(folder("key")) FROM objects WHERE \(rows(""))
                """, arguments: arguments + arguments)
        try db.execute(
            sql: """
                INSERT INTO portal_files (source, object_id, time, site_id, folder_id, size)
                    SELECT o.source, o.id, CAST(o.time AS INTEGER), s.id, f.id, o.size FROM objects o
                    LEFT JOIN portal_names s ON s.text = o.site
                    JOIN portal_names f ON f.text = \(folder("o.key"))
                    WHERE \(rows("o."))
                    ORDER BY 3, 2
                """, arguments: arguments)  // in the table's own order: appends, not a million random inserts
    }

    // MARK: - wal_segments

    /// Keeps `wal_segments` in step with the segments this scan marked gone and the ones it added.
    func syncWALSegments(_ db: Database, scan: Int64, addedAfter lastID: Int64) throws {
        // Segments that went: few a night (the oldest expire), found from the objects_gone index; their archive and
        // position come from the key.
        let gone = try Row.fetchAll(
            db, sql: "SELECT id, key FROM objects WHERE source = ? AND gone_scan = ? AND kind IN \(Self.walKinds)",
            arguments: [source, scan])
        if !gone.isEmpty {
            var archiveIDs: [String: Int64] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT id, name FROM wal_archives WHERE source = ?", arguments: [source])
            {
                archiveIDs[row[1]] = row[0]
            }
            let delete = try db.makeStatement(
                sql: "DELETE FROM wal_segments WHERE archive_id = ? AND timeline = ? AND segment = ? AND object_id = ?")
            for row in gone {
                let key: String = row[1]
                guard let place = Classifier.walPlace(key), let archive = archiveIDs[String(place.archive)] else {
                    continue
                }
                try delete.execute(arguments: [
                    archive, Int64(place.file.segment.timeline), Int64(place.file.segment.number), row[0] as Int64,
                ])
            }
        }
        try insertWALSegments(
            db, rows: added(Self.walKinds, alias: "o."), arguments: [lastID, source, scan])
    }

    private func insertWALSegments(_ db: Database, rows: String, arguments: StatementArguments) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO wal_archives (source, name) SELECT ?, name FROM temp.staged_archives",
            arguments: [source])
        // The staged key index carries archive and position: the join reads it in key order, not the staged rows.
        // Segments of 0 bytes are not archived.
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO wal_segments (archive_id, timeline, segment, object_id, time)
                    SELECT a.id, s.timeline, s.segment, o.id, COALESCE(CAST(o.mtime AS INTEGER), 0)
                    FROM objects o
                    JOIN temp.staged_objects s ON s.key = o.key AND s.size = o.size AND s.mtime IS o.mtime
                    JOIN temp.staged_archives n ON n.number = s.archive
                    JOIN wal_archives a ON a.source = o.source AND a.name = n.name
                    WHERE \(rows) AND s.segment IS NOT NULL AND o.size > 0
                    ORDER BY 1, 2, 3, 4
                """, arguments: arguments)
    }

    // MARK: - Reclassification

    func classifierIsCurrent(_ db: Database) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT version FROM source_classifier WHERE source = ?", arguments: [source])
            == Classifier.version
    }

    func markClassifierCurrent(_ db: Database) throws {
        try db.execute(
            sql: "INSERT OR REPLACE INTO source_classifier (source, version) VALUES (?, ?)",
            arguments: [source, Classifier.version])
    }

    /// The present objects were judged by an older classifier: take this scan's judgement of each (its kind and
    /// what it parsed from the name), then rebuild the compact tables of the source from every present object.
    func reclassify(_ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE objects SET kind = s.kind, time = s.time, site = s.site
                FROM (SELECT key, kind, time, site FROM temp.staged_objects GROUP BY key) AS s
                WHERE objects.source = ? AND objects.gone_scan IS NULL AND objects.key = s.key
                    AND (objects.kind IS NOT s.kind OR objects.time IS NOT s.time OR objects.site IS NOT s.site)
                """, arguments: [source])
        try db.execute(sql: "DELETE FROM portal_files WHERE source = ?", arguments: [source])
        try insertPortalFiles(db, rows: { self.present(Self.portalKinds, alias: $0) }, arguments: [source])
        try db.execute(
            sql: "DELETE FROM wal_segments WHERE archive_id IN (SELECT id FROM wal_archives WHERE source = ?)",
            arguments: [source])
        try insertWALSegments(db, rows: present(Self.walKinds, alias: "o."), arguments: [source])
    }
}
