import DRAuditCore
import Foundation
import GRDB

/// What the last successful live cluster scan read of the DR kit's objects (`live_kit`, migration 0006).
extension Index {
    func replaceLiveKit(_ db: Database, rows: [(role: String, payload: String)], scan: Int64) throws {
        try db.execute(sql: "DELETE FROM live_kit")
        for row in rows {
            try db.execute(
                sql: "INSERT INTO live_kit (role, scan_id, payload) VALUES (?, ?, ?)",
                arguments: [row.role, scan, row.payload])
        }
    }

    /// The payloads (`Kit.LiveSubsystem` as JSON), one per subsystem the last successful live scan read.
    public func liveKitPayloads() throws -> [String] {
        try guarded {
            try queue.read { db in try String.fetchAll(db, sql: "SELECT payload FROM live_kit ORDER BY role") }
        }
    }
}
