import DRAuditCore
import Foundation
import GRDB
import GRDBSQLite

/// The SQLite index: objects, parsed backups, cluster records, scans and audit findings.
/// Schema lives in `migrations/*.sql` (embedded at build time); `schema_migrations` records what was applied.
public final class Index: @unchecked Sendable {
    public let path: String
    let queue: DatabaseQueue

    /// How long a second writer waits for the first before giving up.
    public let busyTimeout: TimeInterval

    /// 16 MB (negative: KiB).
    static let cachePages = -16000

    public init(path: String, busyTimeout: TimeInterval = 30) throws {
        self.path = path
        self.busyTimeout = busyTimeout
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "dr-audit-index"
        // Bounded caches big enough that a 100k-object scan stages and diffs without spilling to temp files.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = \(Self.cachePages); PRAGMA temp.cache_size = \(Self.cachePages)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            throw DRAuditError("index \(path): folder \(directory) does not exist")
        }
        do { queue = try DatabaseQueue(path: path, configuration: configuration) } catch {
            throw Self.describe(error, path: path, busyTimeout: busyTimeout)
        }
        try migrate()
    }

    /// SQLite's `application_id` of a dr-audit index ("DRAu"): `file` then says what the database is, and
    /// dr-audit can tell its own index from another application's database.
    public static let applicationID: Int32 = 0x4452_4175

    /// Applies the embedded `migrations/*.sql` not yet recorded in `schema_migrations`, in name order, in one
    /// IMMEDIATE transaction: two processes opening a new index at once cannot both apply them.
    /// Another application's database (`database:` pointing at the wrong file) is refused, never migrated.
    private func migrate() throws {
        let known = embeddedMigrations.map(\.name)
        try guarded {
            let applied = try queue.read { db -> [String] in
                let id = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let ours = try db.tableExists("schema_migrations")
                if id != 0 && id != Self.applicationID {
                    throw DRAuditError(
                        "index \(path) is not a dr-audit index (SQLite application_id \(String(format: "0x%08X", id))); point database: at a new file"
                    )
                }
                if id == 0 && !ours,
                    let other = try String.fetchOne(
                        db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 1")
                {
                    throw DRAuditError(
                        "index \(path) is not a dr-audit index (it holds another application's tables, e.g. \(other)); point database: at a new file"
                    )
                }
                guard ours else { return [] }
                return try String.fetchAll(db, sql: "SELECT name FROM schema_migrations")
            }
            if let unknown = Set(applied).subtracting(known).sorted().first {
                throw DRAuditError(
                    "index \(path) was written by a newer dr-audit (migration \(unknown)); use that version")
            }
            if Set(applied) == Set(known) { return }
            try queue.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try db.execute(
                        sql:
                            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
                    )
                    try db.execute(sql: "PRAGMA application_id = \(Self.applicationID)")
                    let done = Set(try String.fetchAll(db, sql: "SELECT name FROM schema_migrations"))
                    for migration in embeddedMigrations where !done.contains(migration.name) {
                        try db.execute(sql: migration.sql)
                        try db.execute(
                            sql: "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                            arguments: [migration.name, Date().timeIntervalSince1970])
                    }
                    return .commit
                }
            }
        }
    }

    public func appliedMigrations() throws -> [String] {
        try guarded {
            try queue.read { db in try String.fetchAll(db, sql: "SELECT name FROM schema_migrations ORDER BY name") }
        }
    }

    /// Runs database work, turning SQLite failures into one-line errors that name the index.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as DRAuditError { throw error } catch {
            throw Self.describe(error, path: path, busyTimeout: busyTimeout)
        }
    }

    /// The code of errors that come from the index itself, not from a target.
    public static let errorCode = "INDEX_ERROR"

    static func describe(_ error: Error, path: String, busyTimeout: TimeInterval) -> DRAuditError {
        var described = describeDatabase(error, path: path, busyTimeout: busyTimeout)
        described.code = errorCode
        return described
    }

    private static func describeDatabase(_ error: Error, path: String, busyTimeout: TimeInterval) -> DRAuditError {
        guard let db = error as? DatabaseError else {
            return DRAuditError("index \(path): \(DRAuditError.oneLine(error))")
        }
        switch db.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return DRAuditError(
                "index \(path) is locked by another process (waited \(Int(busyTimeout)) s); try again when it finishes")
        case .SQLITE_READONLY:
            // SQLite writes its journal beside the index: a read-only folder makes a writable index read-only.
            let folder = (path as NSString).deletingLastPathComponent.ifEmpty(".")
            if access(path, W_OK) == 0 && access(folder, W_OK) != 0 {
                return DRAuditError(
                    "index \(path): its folder \(folder) is read-only; dr-audit needs to write there (SQLite keeps its journal beside the index)"
                )
            }
            return DRAuditError("index \(path) is read-only; dr-audit needs to write it")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            let folder = (path as NSString).deletingLastPathComponent.ifEmpty(".")
            if !FileManager.default.fileExists(atPath: path) && access(folder, W_OK) != 0 {
                return DRAuditError(
                    "index \(path) cannot be created: its folder \(folder) is not writable by this user")
            }
            return DRAuditError("index \(path) cannot be opened (check the path and its permissions)")
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return DRAuditError("index \(path) is not a dr-audit SQLite database or is damaged")
        case .SQLITE_FULL:
            return DRAuditError("index \(path): the disk is full")
        default:
            return DRAuditError("index \(path): \(db.message ?? "SQLite error \(db.resultCode.rawValue)")")
        }
    }
}
