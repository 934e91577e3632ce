import DRAuditCore
import Foundation
import GRDB
import GRDBSQLite

/// Verification results (`dr-audit verify`): written as each object is read, so a run cut short keeps what it
/// found; read back by the audit (latest result of every present version), the sampler and metrics.
extension Index {
    /// The version a result belongs to: the present `objects` row of a portal key or of a WAL segment's key, the
    /// present `backups` row of a management backup id. nil when it is no longer present.
    public func presentVersion(role: Role, subject: String) throws -> Int64? {
        try guarded { try queue.read { db in try Self.presentVersion(db, role: role, subject: subject) } }
    }

    private static func presentVersion(_ db: Database, role: Role, subject: String) throws -> Int64? {
        switch VerificationResult.source(role: role, subject: subject) {
        case "management":
            return try Int64.fetchOne(
                db, sql: "SELECT id FROM backups WHERE source = 'management' AND backup_id = ? AND gone_scan IS NULL",
                arguments: [subject])
        default:
            return try Int64.fetchOne(
                db, sql: "SELECT id FROM objects WHERE source = ? AND key = ? AND gone_scan IS NULL",
                arguments: [role.rawValue, subject])
        }
    }

    /// Writes results in one transaction. Each must name a present version (`versions[subject]`, or looked up).
    public func recordVerifications(_ results: [VerificationResult], versions: [String: Int64] = [:]) throws {
        guard !results.isEmpty else { return }
        try guarded {
            try queue.write { db in
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO verifications (source, version_id, subject, checked_at, deep, outcome, code, detail,
                                                   skipped, bytes_read, entries, content_bytes)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for r in results {
                    // Gone since the scan: nothing left to say it of.
                    guard
                        let version = try versions[r.subject]
                            ?? Self.presentVersion(db, role: r.role, subject: r.subject)
                    else { continue }
                    try insert.execute(arguments: [
                        r.source, version, r.subject,
                        r.checkedAt.timeIntervalSince1970, r.deep ? 1 : 0,
                        r.outcome.rawValue, r.code, r.detail, r.skipped, r.bytesRead, r.entries, r.contentBytes,
                    ])
                }
            }
        }
    }

    /// Whether a verification row still describes a present version.
    private static let isPresent = """
        CASE v.source WHEN 'management'
            THEN EXISTS (SELECT 1 FROM backups b WHERE b.id = v.version_id AND b.gone_scan IS NULL)
            ELSE EXISTS (SELECT 1 FROM objects o WHERE o.id = v.version_id AND o.gone_scan IS NULL) END
        """
    private static let isLatest = """
        NOT EXISTS (SELECT 1 FROM verifications w WHERE w.source = v.source AND w.version_id = v.version_id AND w.id > v.id)
        """

    /// For the audit: the latest result of every present version that failed or was skipped, whatever its age, and
    /// of every present version checked since `since`.
    public func latestVerifications(since: Date) throws -> [VerificationResult] {
        try guarded {
            try queue.read { db in
                try GRDB.Row.fetchAll(
                    db,
                    sql: """
                        SELECT v.source, v.subject, v.outcome, v.code, v.detail, v.skipped, v.checked_at, v.deep,
                               v.bytes_read, v.entries, v.content_bytes
                        FROM verifications v
                        WHERE v.id IN (SELECT id FROM verifications WHERE checked_at >= ?
                                       UNION SELECT id FROM verifications WHERE outcome != 'ok')
                          AND \(Self.isLatest) AND \(Self.isPresent)
                        ORDER BY v.id
                        """, arguments: [since.timeIntervalSince1970]
                ).compactMap(Self.result)
            }
        }
    }

    static func result(_ row: GRDB.Row) -> VerificationResult? {
        guard let role = role(source: row[0]), let outcome = VerificationResult.Outcome(rawValue: row[2]) else {
            return nil
        }
        return VerificationResult(
            role: role, subject: row[1], outcome: outcome, code: row[3], detail: row[4], skipped: row[5],
            checkedAt: Date(timeIntervalSince1970: row[6]), deep: row[7] == 1, bytesRead: row[8], entries: row[9],
            contentBytes: row[10])
    }

    /// A WAL segment's results are management evidence.
    static func role(source: String) -> Role? { source == "wal" ? .management : Role(rawValue: source) }

    /// For the sampler: when each present version was last verified, by role and subject.
    public func lastVerified() throws -> [Role: [String: Date]] {
        try guarded {
            try queue.read { db in
                var out: [Role: [String: Date]] = [:]
                for row in try GRDB.Row.fetchAll(
                    db,
                    sql: """
                        SELECT v.source, v.subject, v.checked_at FROM verifications v
                        WHERE \(Self.isLatest) AND \(Self.isPresent)
                        """)
                {
                    guard let role = Self.role(source: row[0]) else { continue }
                    out[role, default: [:]][row[1]] = Date(timeIntervalSince1970: row[2])
                }
                return out
            }
        }
    }

    /// For metrics: the latest results of present versions by outcome, and the last time anything was verified.
    public func verificationSummary() throws -> (byOutcome: [String: Int], lastCheckedAt: Date?) {
        try guarded {
            try queue.read { db in
                var counts: [String: Int] = [:]
                for row in try GRDB.Row.fetchAll(
                    db,
                    sql: """
                        SELECT v.outcome, count(*) FROM verifications v
                        WHERE \(Self.isLatest) AND \(Self.isPresent) GROUP BY v.outcome
                        """)
                {
                    counts[row[0]] = row[1]
                }
                let last = try Double.fetchOne(db, sql: "SELECT max(checked_at) FROM verifications")
                return (counts, last.map { Date(timeIntervalSince1970: $0) })
            }
        }
    }

    /// The present objects of a source below a folder (`prefix` ends with `/`), with their sizes: what the latest
    /// scan listed there.
    public func presentObjects(source: String, prefix: String) throws -> [String: Int64] {
        try guarded {
            try queue.read { db in
                var out: [String: Int64] = [:]
                // A key range, so SQLite walks only that stretch of the (source, key) index.
                let upper = prefix + "\u{10FFFF}"
                for row in try GRDB.Row.fetchAll(
                    db,
                    sql:
                        "SELECT key, size FROM objects WHERE source = ? AND key >= ? AND key < ? AND gone_scan IS NULL",
                    arguments: [source, prefix, upper])
                {
                    out[row[0]] = row[1]
                }
                return out
            }
        }
    }
}
