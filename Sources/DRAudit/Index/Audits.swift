import DRAuditCore
import Foundation
import GRDB
import GRDBSQLite

/// Audits and their findings, and direct SQL for tests.
extension Index {
    public func recordAudit(now: Date, status: String, findings: [Finding]) throws {
        try guarded {
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO audits (ran_at, now, status) VALUES (?, ?, ?)",
                    arguments: [Date().timeIntervalSince1970, now.timeIntervalSince1970, status])
                let audit = db.lastInsertedRowID
                let insert = try db.cachedStatement(
                    sql: "INSERT INTO findings (audit_id, code, severity, subject, message) VALUES (?, ?, ?, ?, ?)")
                for f in findings {
                    try insert.execute(arguments: [audit, f.code, f.severity.rawValue, f.subject, f.message])
                }
            }
        }
    }

    /// Direct SQL for tests and ad-hoc questions.
    public func query<T: DatabaseValueConvertible>(_ sql: String, arguments: StatementArguments = []) throws -> [T] {
        try guarded { try queue.read { db in try T.fetchAll(db, sql: sql, arguments: arguments) } }
    }
}
