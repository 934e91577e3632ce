import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// dr-audit's reading of repositories written by the real PostgreSQL 15, pgBackRest and barman-cloud
/// (scripts/pg-fixtures.sh), compared with what the tools themselves say.
@Suite(.serialized)
struct RealRepositoryTests {
    static let managementCR = """
        kind: ManagementCluster
        metadata: {name: management, namespace: apic}
        spec:
          originalUID: 0e88ecfa-1b6d-4f0a-8e2c-6d9b3f7a5c20
          databaseBackup: {protocol: objstore, host: s3.example.com/us-east-1, path: x, credentials: mgmt-backup-secret}

        """

    /// A config for a management target (and optionally a portal folder); returns the workspace after a scan.
    func scanned(_ dir: TempDir, management: String, portal: String? = nil) throws -> Workspace {
        try Self.managementCR.write(toFile: dir.path("management_cr.yaml"), atomically: true, encoding: .utf8)
        var config = "database: ./dr-audit.sqlite\nmanagement:\n  cr: ./management_cr.yaml\n" + management
        if let portal {
            try """
            kind: PortalCluster
            metadata: {name: portal, namespace: apic}
            spec:
              originalUID: 5f1c3a9e-7d2b-4e8a-9c61-2b7f0d4e8a11
              portalBackup: {protocol: sftp, host: sftp.example.com, path: /p, credentials: s}

            """.write(toFile: dir.path("portal_cr.yaml"), atomically: true, encoding: .utf8)
            config += "portal:\n  cr: ./portal_cr.yaml\n  target: {protocol: local, path: \(portal)}\n"
        }
        try config.write(toFile: dir.path("dr-audit.yaml"), atomically: true, encoding: .utf8)
        let workspace = try Workspace(configPath: dir.path("dr-audit.yaml"))
        let reports = try workspace.scan()
        #expect(reports.allSatisfy { $0.error == nil }, "\(reports.compactMap(\.error?.message))")
        return workspace
    }

    func s3Secret(_ dir: TempDir) throws -> String {
        let secret = secretYAML(
            "mgmt-backup-secret", username: try TestServers.value("DRTEST_S3_ACCESS_KEY"),
            password: try TestServers.value("DRTEST_S3_SECRET_KEY"))
        try secret.write(toFile: dir.path("secret.yaml"), atomically: true, encoding: .utf8)
        return "  secret: ./secret.yaml\n"
    }

    /// dr-audit's backups and WAL ranges are pgBackRest's own (`pgbackrest info --output=json`), every backup is
    /// restorable, and the archive's first and last segment are those pgBackRest reports.
    func expectAgreement(_ workspace: Workspace, with info: PostgresFixtures.PgBackRestInfo, stanza: String) throws {
        let input = try workspace.auditInput(now: Date(), withDeployment: false)
        let byLabel = Dictionary(uniqueKeysWithValues: input.managementBackups.map { ($0.id, $0) })
        #expect(Set(byLabel.keys) == Set(info.backups.map(\.label)))
        let archive = try #require(info.archives.first)
        for tool in info.backups {
            let mine = try #require(byLabel[tool.label])
            #expect(mine.type == tool.type)
            #expect(mine.prior == tool.prior)
            #expect(mine.start == tool.start && mine.stop == tool.stop)
            #expect(mine.wal?.start.name == tool.archiveStart)
            #expect(mine.wal?.stop.name == tool.archiveStop)
            #expect(mine.wal?.archive == "archive/\(stanza)/\(archive.id)")
        }
        let state = Restorability.assess(input.managementBackups, wal: input.wal)
        #expect(state.restorable.count == info.backups.count, "\(state.problems)")
        let first = try #require(archive.min.flatMap(WALSegment.parse))
        let last = try #require(archive.max.flatMap(WALSegment.parse))
        let run = try #require(input.wal.run(holding: last, in: "archive/\(stanza)/\(archive.id)")?.run)
        #expect(run.last == last.number)
        #expect(run.first <= first.number)  // the archive may begin before its oldest backup's WAL
        #expect(state.recoveryWindows.count == 1)
        #expect(state.recoveryWindows.first?.backups.count == info.backups.count)
        // Every object the tool wrote is recognised (its `latest` link among them on a file system).
        let unrecognized = Audit.assess(try workspace.auditInput(now: Date())).findings.filter {
            $0.code == "UNRECOGNIZED_OBJECT"
        }
        #expect(unrecognized.isEmpty, "\(unrecognized.map(\.subject))")
    }

    @Test func aLocalPgBackRestRepositoryReadsAsPgBackRestDescribesIt() throws {
        let fixtures = try PostgresFixtures.load()
        let dir = try TempDir()
        let workspace = try scanned(dir, management: "  target: {protocol: local, path: \(fixtures.repo1Path)}\n")
        try expectAgreement(workspace, with: try fixtures.pgBackRestInfo(repo: 1), stanza: fixtures.stanza)
        // The window ends at the archive time of the newest segment: its file's mtime.
        let info = try fixtures.pgBackRestInfo(repo: 1)
        let archive = try #require(info.archives.first)
        let files = try PostgresFixtures.archivedFiles(
            inRepository: fixtures.repo1Path, stanza: fixtures.stanza, archiveID: archive.id)
        let newest = try #require(files.first { $0.key.hasPrefix(archive.max ?? "-") }?.value)
        let mtime = try #require(try FileManager.default.attributesOfItem(atPath: newest)[.modificationDate] as? Date)
        let state = Restorability.assess(
            try workspace.auditInput(now: Date(), withDeployment: false).managementBackups,
            wal: try workspace.index.presentWALInventory(source: "management").all)
        #expect(
            state.recoveryWindows.first?.to == Date(timeIntervalSince1970: mtime.timeIntervalSince1970.rounded(.down)))
    }

    @Test func aPgBackRestRepositoryOnS3ReadsAsPgBackRestDescribesIt() throws {
        let fixtures = try PostgresFixtures.load()
        let dir = try TempDir()
        let target = """
              target: {protocol: objstore, path: \(fixtures.repo2.bucket)/\(fixtures.repo2.prefix)}
              endpoint: \(try TestServers.value("DRTEST_S3_HTTPS_ENDPOINT"))
              caBundle: \(try TestServers.value("DRTEST_S3_CA"))

            """
        let workspace = try scanned(dir, management: try s3Secret(dir) + target)
        try expectAgreement(workspace, with: try fixtures.pgBackRestInfo(repo: 2), stanza: fixtures.stanza)
    }

    @Test func aBarmanCloudArchiveOnS3ReadsAsBarmanDescribesIt() throws {
        let fixtures = try PostgresFixtures.load()
        let dir = try TempDir()
        let target = """
              target: {protocol: objstore, path: \(fixtures.barman.bucket)/\(fixtures.barman.prefix)}
              endpoint: \(fixtures.barman.endpoint)

            """
        let workspace = try scanned(dir, management: try s3Secret(dir) + target)
        let input = try workspace.auditInput(now: Date(), withDeployment: false)
        let tools = try fixtures.barmanBackups()
        #expect(tools.count >= 2)
        let byID = Dictionary(uniqueKeysWithValues: input.managementBackups.map { ($0.id, $0) })
        #expect(Set(byID.keys) == Set(tools.map { "\(fixtures.barmanServer)/\($0.id)" }))
        for tool in tools {
            let mine = try #require(byID["\(fixtures.barmanServer)/\(tool.id)"])
            #expect(mine.status == .complete)
            // barman prints times to the second
            #expect(
                abs(mine.start.timeIntervalSince(tool.beginTime)) < 1
                    && abs(mine.time.timeIntervalSince(tool.endTime)) < 1)
            #expect(mine.wal?.start.name == tool.beginWAL && mine.wal?.stop.name == tool.endWAL)
            #expect(mine.wal?.timeline == UInt32(tool.timeline))
            #expect(mine.wal?.archive == "\(fixtures.barmanServer)/wals")
        }
        let state = Restorability.assess(input.managementBackups, wal: input.wal)
        #expect(state.restorable.count == tools.count, "\(state.problems)")
        #expect(!state.recoveryWindows.isEmpty)
        #expect(state.recoveryWindows.allSatisfy { $0.format == .barman })
        let unrecognized = Audit.assess(try workspace.auditInput(now: Date())).findings.filter {
            $0.code == "UNRECOGNIZED_OBJECT"
        }
        #expect(unrecognized.isEmpty, "\(unrecognized.map(\.subject))")
    }

    /// The proof that a point-in-time pair restores what it claims: a portal run centred on the fixtures' target
    /// time pairs by PITR, and pgBackRest restored to the pair's pitrTarget has the row written before it and not
    /// the one written after it.
    @Test func aPointInTimePairRestoresToItsTarget() throws {
        let fixtures = try PostgresFixtures.load()
        let dir = try TempDir()
        let portal = dir.url.appendingPathComponent("portal")
        try FileManager.default.createDirectory(at: portal, withIntermediateDirectories: true)
        let t = fixtures.pitrTargetTime
        for name in [
            PortalFileName.format(kind: .system, site: nil, time: t.addingTimeInterval(-1)),
            PortalFileName.format(kind: .site, site: "portal-web.example.com@org@cat", time: t.addingTimeInterval(1)),
        ] {
            try Data("site".utf8).write(to: portal.appendingPathComponent(name))
        }
        let workspace = try scanned(
            dir, management: "  target: {protocol: local, path: \(fixtures.repo1Path)}\n", portal: portal.path)
        let pairs = try cli(["pairs", "--config", dir.path("dr-audit.yaml"), "--format", "json"])
        #expect(pairs.status == 0, "\(pairs.stderr)")
        let pair = try #require((try json(pairs.stdout)["pairs"] as? [[String: Any]])?.first)
        let management = try #require(pair["management"] as? [String: Any])
        #expect(management["recovery"] as? String == "pitr")
        let target = try #require((management["pitrTarget"] as? String).flatMap(UTC.parseRFC3339))
        #expect(target == t)
        // As the restore plan writes it for the ManagementRestore, and as pgBackRest takes it.
        let plan = try cli(["restore-plan", "--config", dir.path("dr-audit.yaml")])
        let planned = UTC.format(target, "YYYY-MM-DD hh:mm:ss+00")
        #expect(plan.stdout.contains("pitrTarget: \"\(planned)\""))
        let kinds = try planKinds(plan.stdout)
        #expect(kinds.first == "ManagementRestore" && kinds.dropFirst().allSatisfy { $0 == "PortalRestore" })
        let rows = try fixtures.restoreAndQuery(
            target: planned, sql: "SELECT name FROM \(fixtures.markerTable) ORDER BY name")
        #expect(rows.contains(fixtures.before.name))
        #expect(!rows.contains(fixtures.after.name))
        withExtendedLifetime(workspace) {}
    }

    /// One archived segment after the newest backup is deleted: the recovery window ends at the segment before it,
    /// and the hole is a finding naming both sides.
    @Test func aDeletedSegmentCutsTheWindowThere() throws {
        let fixtures = try PostgresFixtures.load()
        let copy = try fixtures.copyRepository()
        let info = try fixtures.pgBackRestInfo(repo: 1)
        let archive = try #require(info.archives.first)
        let newestStop = try #require(info.backups.compactMap { $0.archiveStop.flatMap(WALSegment.parse) }.max())
        let last = try #require(archive.max.flatMap(WALSegment.parse))
        #expect(last.number >= newestStop.number + 2, "the fixtures archive segments after the newest backup")
        let victim = newestStop.next
        let files = try PostgresFixtures.archivedFiles(
            inRepository: copy.path, stanza: fixtures.stanza, archiveID: archive.id)
        let path = try #require(files.first { $0.key.hasPrefix(victim.name + "-") }?.value)
        let before = try #require(files.first { $0.key.hasPrefix(newestStop.name + "-") }?.value)
        let beforeTime = try #require(
            try FileManager.default.attributesOfItem(atPath: before)[.modificationDate] as? Date)
        try FileManager.default.removeItem(atPath: path)

        let dir = try TempDir()
        let workspace = try scanned(dir, management: "  target: {protocol: local, path: \(copy.path)}\n")
        let assessment = Audit.assess(try workspace.auditInput(now: Date()))
        let windows = assessment.management.recoveryWindows
        #expect(windows.last?.to == Date(timeIntervalSince1970: beforeTime.timeIntervalSince1970.rounded(.down)))
        let gap = try #require(assessment.findings.first { $0.code == "MGMT_WAL_GAP" })
        #expect(gap.message.contains("after \(newestStop.name)"))
        #expect(gap.message.contains("up to \(victim.next.name)"))
    }
}
