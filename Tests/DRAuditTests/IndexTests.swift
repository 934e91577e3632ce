import DRAuditCore
import Foundation
import GRDB
import Testing

@testable import DRAudit

struct MigrationTests {
    @Test func theBinaryCarriesEveryMigrationInTheFolder() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(!files.isEmpty)
        #expect(embeddedMigrations.map(\.name) == files.map { String($0.dropLast(4)) })
        for (file, migration) in zip(files, embeddedMigrations) {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(
                migration.sql.trimmingCharacters(in: .whitespacesAndNewlines)
                    == text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(files.allSatisfy { $0.range(of: #"^[0-9]{4}_[a-z0-9_]+\.sql$"#, options: .regularExpression) != nil })
    }

    @Test func migratesOnceAndReopens() throws {
        let dir = try TempDir()
        let first = try Index(path: dir.path("i.sqlite"))
        #expect(try first.appliedMigrations() == embeddedMigrations.map(\.name))
        let again = try Index(path: dir.path("i.sqlite"))
        #expect(try again.appliedMigrations() == embeddedMigrations.map(\.name))
        let tables: [String] = try again.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        #expect(
            Set(tables).isSuperset(of: [
                "schema_migrations", "scans", "objects", "backups", "cluster_records", "audits", "findings",
            ]))
    }

    /// An index made before `portal_files` existed gets it filled from its present portal objects.
    @Test func fillsPortalFilesForAnIndexMadeBeforeThem() throws {
        let dir = try TempDir()
        let raw = try DatabaseQueue(path: dir.path("i.sqlite"))
        try raw.write { db in
            try db.execute(sql: "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            try db.execute(sql: embeddedMigrations[0].sql)
            try db.execute(sql: "INSERT INTO schema_migrations VALUES (?, 0)", arguments: [embeddedMigrations[0].name])
            try db.execute(
                sql:
                    "INSERT INTO scans (source, location, started_at, finished_at, status) VALUES ('portal', 'x', 0, 0, 'ok')"
            )
            for (key, kind, site, gone) in [
                ("_portal_system_backup-20260101.010000.tar.gz", "portal-system", nil, false),
                ("2026/a.example.com@o@c-20260101.010010.tar.gz", "portal-site", "a.example.com@o@c", false),
                ("b.example.com@o@c-20260101.010020.tar.gz", "portal-site", "b.example.com@o@c", true),
                ("stray.txt", "unrecognized", nil, false),
            ] as [(String, String, String?, Bool)] {
                let time = PortalFileName.parse(String(key.split(separator: "/").last!))?.time.timeIntervalSince1970
                try db.execute(
                    sql: """
                        INSERT INTO objects (source, key, size, kind, time, site, first_seen_scan, gone_scan) VALUES ('portal', ?, 5, ?, ?, ?, 1, ?)
                        """, arguments: [key, kind, time, site, gone ? 1 : nil])
            }
        }
        let index = try Index(path: dir.path("i.sqlite"))
        #expect(try index.appliedMigrations() == embeddedMigrations.map(\.name))
        #expect(
            try index.presentPortalInventory(source: "portal").files.map(\.key).sorted()
                == ["2026/a.example.com@o@c-20260101.010010.tar.gz", "_portal_system_backup-20260101.010000.tar.gz"])
    }

    @Test func refusesADatabaseFromANewerVersion() throws {
        let dir = try TempDir()
        _ = try Index(path: dir.path("i.sqlite"))
        let raw = try DatabaseQueue(path: dir.path("i.sqlite"))
        try raw.write {
            try $0.execute(sql: "INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future', 0)")
        }
        #expect(throws: DRAuditError.self) { try Index(path: dir.path("i.sqlite")) }
        do { _ = try Index(path: dir.path("i.sqlite")) } catch {
            #expect("\(error)".contains("newer dr-audit"))
        }
    }

    @Test func refusesAFileThatIsNotSQLite() throws {
        let dir = try TempDir()
        try Data("this is not a database, just text that is long enough to have a header".utf8).write(
            to: dir.url.appendingPathComponent("i.sqlite"))
        do {
            _ = try Index(path: dir.path("i.sqlite"))
            Issue.record("opened a text file as an index")
        } catch {
            #expect("\(error)".contains("i.sqlite"))
            #expect("\(error)".contains("not a dr-audit SQLite database"))
        }
    }
}

/// A target that lists some objects and then fails, like a connection dropped mid-listing.
struct DroppingTarget: StorageTarget {
    var inner: StorageTarget
    var failAfter: Int
    var location: String { inner.location }
    func list(_ visit: (StorageObject) throws -> Void) throws {
        var n = 0
        try inner.list { object in
            if n == failAfter {
                throw DRAuditError("connection reset by peer after \(n) objects", code: "TARGET_UNREACHABLE")
            }
            n += 1
            try visit(object)
        }
    }
    func read(_ key: String, limit: Int) throws -> Data { try inner.read(key, limit: limit) }
}

struct ScanTransactionTests {
    /// Every row of the tables a scan may change, except scans.
    func snapshot(_ index: Index) throws -> [String] {
        let objects: [String] = try index.query(
            "SELECT source || '|' || key || '|' || size || '|' || ifnull(time, '-') || ifnull(site, '-') || '|' || ifnull(gone_scan, '-') FROM objects ORDER BY id"
        )
        let backups: [String] = try index.query(
            "SELECT source || '|' || backup_id || '|' || ifnull(gone_scan, '-') || time || '|' || payload FROM backups ORDER BY id"
        )
        let records: [String] = try index.query(
            "SELECT kind || '|' || name || '|' || ifnull(gone_scan, '-') || payload FROM cluster_records ORDER BY id")
        return objects + backups + records
    }

    func scanCount(_ index: Index) throws -> Int { try index.query("SELECT count(*) FROM scans")[0] }

    @Test func rescanOfAnUnchangedTargetAddsOnlyScanRows() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        let workspace = try Workspace(configPath: config.path)
        let first = try workspace.scan()
        #expect(first.allSatisfy { $0.error == nil })
        #expect(first.map(\.source) == ["portal", "management", "cluster"])
        let before = try snapshot(workspace.index)
        #expect(try scanCount(workspace.index) == 3)

        let second = try workspace.scan()
        #expect(second.allSatisfy { $0.counts?.added == 0 && $0.counts?.gone == 0 })
        #expect(try snapshot(workspace.index) == before)
        #expect(try scanCount(workspace.index) == 6)
    }

    @Test func vanishedAndChangedObjectsAreMarkedByTheScanThatMissedThem() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        let workspace = try Workspace(configPath: config.path)
        let firstPortal = try #require(try workspace.scan().first?.counts)
        let portalDir = dir.url.appendingPathComponent("storage/portal")
        let names = try FileManager.default.contentsOfDirectory(atPath: portalDir.path).filter {
            $0.hasPrefix("_portal_system")
        }.sorted()
        try FileManager.default.removeItem(at: portalDir.appendingPathComponent(names[0]))
        try Data("changed".utf8).write(to: portalDir.appendingPathComponent(names[1]))

        let second = try #require(try workspace.scan().first?.counts)
        #expect(second.gone == 2)
        #expect(second.added == 1)
        let gone: [String] = try workspace.index.query(
            "SELECT key || ' ' || gone_scan || ' ' || last_seen_scan FROM objects WHERE gone_scan IS NOT NULL ORDER BY key"
        )
        #expect(
            gone == [
                "\(names[0]) \(second.scanID) \(firstPortal.scanID)",
                "\(names[1]) \(second.scanID) \(firstPortal.scanID)",
            ])
        let present: [Int] = try workspace.index.query(
            "SELECT count(*) FROM objects WHERE key = ? AND gone_scan IS NULL", arguments: [names[1]])
        #expect(present == [1])
        // The vanished system backup is no longer a portal file of the index.
        let inventory = try workspace.index.presentPortalInventory(source: "portal")
        let files = inventory.files.map(\.fileName)
        #expect(!files.contains(names[0]))
        #expect(files.contains(names[1]))
        // The inventory keeps no names, yet gives back every key exactly as listed.
        let keys: [String] = try workspace.index.query(
            "SELECT key FROM objects WHERE source = 'portal' AND gone_scan IS NULL AND kind LIKE 'portal-%' ORDER BY key"
        )
        #expect(inventory.files.map(\.key).sorted() == keys)
    }

    @Test func aFailedScanRecordsItselfAndChangesNothingElse() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        let workspace = try Workspace(configPath: config.path)
        _ = try workspace.scan()
        let before = try snapshot(workspace.index)

        try FileManager.default.moveItem(
            at: dir.url.appendingPathComponent("storage/portal"), to: dir.url.appendingPathComponent("moved"))
        try Data("{ not json".utf8).write(to: dir.url.appendingPathComponent("portalbackups.json"))
        let reports = try workspace.scan()
        #expect(reports[0].error?.code == "TARGET_UNREACHABLE")
        #expect(reports[1].error == nil)
        #expect(reports[2].error?.message.contains("portalbackups.json") == true)
        #expect(try snapshot(workspace.index) == before)
        let failed: [String] = try workspace.index.query(
            "SELECT source || ' ' || error_code FROM scans WHERE status = 'failed' ORDER BY id")
        #expect(failed == ["portal TARGET_UNREACHABLE", "cluster CLUSTER_EXPORT_INVALID"])
    }

    @Test func aListingDroppedMidwayLeavesTheIndexAsItWas() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        let workspace = try Workspace(configPath: config.path)
        _ = try workspace.scan()
        let before = try snapshot(workspace.index)
        try FileManager.default.removeItem(at: dir.url.appendingPathComponent("storage/portal/upload-check.txt"))

        let scanner = Scanner(index: workspace.index, logger: Workspace.quietLogger)
        let local = LocalTarget(root: dir.url.appendingPathComponent("storage/portal"))
        let report = try scanner.scan(role: .portal, target: DroppingTarget(inner: local, failAfter: 10))
        #expect(report.error?.message.contains("connection reset") == true)
        #expect(try snapshot(workspace.index) == before)
    }

    @Test func aLockedIndexFailsCleanlyAfterWaiting() throws {
        let dir = try TempDir()
        let index = try Index(path: dir.path("i.sqlite"), busyTimeout: 0.3)
        let other = try DatabaseQueue(path: dir.path("i.sqlite"))
        try other.inDatabase { db in
            try db.execute(sql: "BEGIN EXCLUSIVE")
            defer { try? db.execute(sql: "ROLLBACK") }
            do {
                try index.recordFailedScan(
                    source: "portal", location: "x", started: Date(), code: "TARGET_UNREACHABLE", error: "e")
                Issue.record("wrote through an exclusive lock")
            } catch {
                #expect("\(error)".contains("is locked by another process"))
                #expect("\(error)".contains("i.sqlite"))
            }
        }
        let scans: [Int] = try index.query("SELECT count(*) FROM scans")
        #expect(scans == [0])
    }
}
