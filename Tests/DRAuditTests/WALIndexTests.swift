import DRAuditCore
import Foundation
import GRDB
import Testing

@testable import DRAudit

/// The WAL archive in the index: kept in step with the listing, read back as runs.
struct WALIndexTests {
    func segments(_ index: Index) throws -> [String] {
        try index.query(
            """
            SELECT a.name || ' ' || w.timeline || ' ' || w.segment FROM wal_segments w JOIN wal_archives a ON a.id = w.archive_id
            ORDER BY 1
            """)
    }

    func segmentFiles(_ dir: TempDir) throws -> [URL] {
        let folder = dir.url.appendingPathComponent("storage/management/archive/apic/12-1")
        return try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".gz") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    @Test func segmentsThatGoOrComeAreTakenOutOfAndPutIntoTheIndex() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: remoteSampleOptions())
        let workspace = try Workspace(configPath: config.path)
        _ = try workspace.scan()
        let files = try segmentFiles(dir)
        #expect(try segments(workspace.index).count == files.count)
        #expect(try workspace.index.presentWALInventory(source: "management").all.segmentCount == files.count)

        // The oldest expires; an empty upload is not an archived segment.
        try FileManager.default.removeItem(at: files[0])
        try Data().write(to: files[1])
        let rescan = try #require(try workspace.scan()[1].counts)
        #expect(rescan.gone == 2 && rescan.added == 1)
        let inventory = try workspace.index.presentWALInventory(source: "management").all
        #expect(inventory.segmentCount == files.count - 2)
        let first = try #require(inventory.runs.values.first?.first)
        #expect(first.first == 3)  // segments 1 and 2 are gone
        #expect(try segments(workspace.index).count == files.count - 2)
    }

    /// An index written before dr-audit knew WAL segments or host-only site names: the next scan re-judges what
    /// is present and fills the compact tables, without a new version of any object.
    @Test func aScanReJudgesWhatAnOlderClassifierStored() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: remoteSampleOptions())
        let hostOnly = "developer.example.com-20260314.010005.tar.gz"
        try Data("site".utf8).write(to: dir.url.appendingPathComponent("storage/portal/\(hostOnly)"))
        let workspace = try Workspace(configPath: config.path)
        _ = try workspace.scan()
        let walCount = try segments(workspace.index).count
        let portalCount = try workspace.index.presentPortalInventory(source: "portal").count
        // What version 1 would have stored.
        try DatabaseQueue(path: workspace.index.path).write { db in
            try db.execute(
                sql: """
                    DELETE FROM source_classifier;
                    DELETE FROM wal_segments;
                    UPDATE objects SET kind = 'pgbackrest-archive' WHERE kind = 'pgbackrest-wal';
                    UPDATE objects SET kind = 'unrecognized', time = NULL, site = NULL WHERE key = '\(hostOnly)';
                    DELETE FROM portal_files WHERE object_id = (SELECT id FROM objects WHERE key = '\(hostOnly)');
                    """)
        }
        #expect(try workspace.index.presentPortalInventory(source: "portal").count == portalCount - 1)
        let versions: [Int] = try workspace.index.query("SELECT count(*) FROM objects")

        let rescan = try workspace.scan()
        #expect(rescan.allSatisfy { $0.counts?.added == 0 && $0.counts?.gone == 0 })
        #expect(try workspace.index.query("SELECT count(*) FROM objects") == versions)
        #expect(try segments(workspace.index).count == walCount)
        #expect(try workspace.index.presentPortalInventory(source: "portal").count == portalCount)
        let kinds: [String] = try workspace.index.query(
            "SELECT kind FROM objects WHERE key = ? AND gone_scan IS NULL", arguments: [hostOnly])
        #expect(kinds == ["portal-site"])
        let versionsNow: [String] = try workspace.index.query(
            "SELECT source || ' ' || version FROM source_classifier ORDER BY source")
        #expect(versionsNow == ["management \(Classifier.version)", "portal \(Classifier.version)"])
    }

    /// The acceptance case of the issue: without the WAL archive no backup of the sample is restorable.
    @Test func withoutItsWALArchiveNoBackupIsRestorable() throws {
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: remoteSampleOptions())
        try FileManager.default.removeItem(at: dir.url.appendingPathComponent("storage/management/archive/apic/12-1"))
        let workspace = try Workspace(configPath: config.path)
        _ = try workspace.scan()
        let assessment = Audit.assess(try workspace.auditInput(now: testNow))
        #expect(assessment.pairing.pairs.isEmpty)
        #expect(assessment.findings.contains { $0.code == "NO_RESTORABLE_PAIR" })
        let missing = assessment.findings.filter { $0.code == "MGMT_WAL_MISSING" }
        #expect(missing.count == 21)  // every complete backup lacks its own consistency WAL
        #expect(missing.allSatisfy { $0.message.contains("is not in archive/apic/12-1") })
    }
}
