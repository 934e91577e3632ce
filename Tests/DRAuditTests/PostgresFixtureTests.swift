import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// The real management repositories that scripts/pg-fixtures.sh writes are what the WAL tests rely on: these tests
/// prove the fixtures themselves (the tools' own view, the archives, the point-in-time restore), not dr-audit's parse.
@Suite(.serialized)
struct PostgresFixtureTests {
    func s3Keys(_ place: PostgresFixtures.S3Place, under folder: String) throws -> [String] {
        let server = try S3Server.running()
        let location = try S3Location.from(
            host: "s3.example.com/us-east-1", path: "\(place.bucket)/\(folder)", provider: "custom", uriStyle: "path",
            endpointOverride: server.endpoint)
        var keys: [String] = []
        try S3Target(S3Target.Settings(location: location, credentials: server.credentials)).list {
            keys.append($0.key)
        }
        return keys
    }

    /// Every segment name from `first` through `last` (same timeline).
    func segmentNames(_ first: String, _ last: String) -> [String] {
        guard let a = WALSegment.parse(first), let b = WALSegment.parse(last), a.timeline == b.timeline, a <= b else {
            return []
        }
        return (a.number...b.number).map { WALSegment(timeline: a.timeline, number: $0).name }
    }

    /// The 24-hex segment names among archived file names (`<segment>-<sha1>.gz`, `<segment>.gz`), leaving out
    /// `.backup` labels, `.history` and `.partial` files.
    func segments(_ names: [String]) -> Set<String> {
        Set(
            names.compactMap { name in
                let file = name.split(separator: "/").last ?? ""
                let head = file.prefix(24)
                guard WALSegment.parse(head) != nil else { return nil }
                let rest = file.dropFirst(24)
                guard rest.isEmpty || rest.hasPrefix("-") || rest == ".gz" else { return nil }
                return String(head)
            })
    }

    @Test func pgBackRestListsAFullAndTwoIncrementalsWithTheirWALRangesInEachRepository() throws {
        let fixtures = try PostgresFixtures.load()
        for repo in [1, 2] {
            let info = try fixtures.pgBackRestInfo(repo: repo)
            #expect(info.backups.map(\.type) == ["full", "incr", "incr"], "repo\(repo)")
            #expect(info.backups.allSatisfy { !$0.error && $0.start <= $0.stop })
            #expect(info.backups[0].prior == nil)
            #expect(info.backups[1].prior == info.backups[0].label)
            #expect(info.backups[2].prior == info.backups[1].label)
            #expect(
                info.backups[1].label.hasPrefix(info.backups[0].label + "_") && info.backups[1].label.hasSuffix("I"))
            let archive = try #require(info.archives.first, "repo\(repo) has an archive")
            #expect(info.archives.count == 1 && archive.id == "15-1")
            let min = try #require(archive.min)
            let max = try #require(archive.max)
            for backup in info.backups {
                let start = try #require(backup.archiveStart, "\(backup.label) has a WAL range")
                let stop = try #require(backup.archiveStop)
                #expect(
                    min <= start && start <= stop && stop <= max, "\(backup.label): \(start)…\(stop) in \(min)…\(max)")
            }
            #expect(zip(info.backups, info.backups.dropFirst()).allSatisfy { $0.stop <= $1.start })
        }
        // Each repository took its own backups; the local one holds each label's manifest.
        let labels = try fixtures.pgBackRestInfo(repo: 1).backups.map(\.label)
        #expect(Set(labels).isDisjoint(with: try fixtures.pgBackRestInfo(repo: 2).backups.map(\.label)))
        for label in labels {
            #expect(
                FileManager.default.fileExists(
                    atPath: "\(fixtures.repo1Path)/backup/\(fixtures.stanza)/\(label)/backup.manifest"))
        }
        let remote = try s3Keys(fixtures.repo2, under: "\(fixtures.repo2.prefix)/backup/\(fixtures.stanza)")
        for label in try fixtures.pgBackRestInfo(repo: 2).backups.map(\.label) {
            #expect(remote.contains("\(label)/backup.manifest"), "repo2 holds \(label)/backup.manifest")
        }
        #expect(remote.contains("backup.info"))
    }

    @Test func barmanListsTwoDoneBackupsWithTheirWALRangeAndShowAgrees() throws {
        let fixtures = try PostgresFixtures.load()
        let backups = try fixtures.barmanBackups()
        #expect(backups.count >= 2)
        #expect(backups.allSatisfy { $0.status == "DONE" && $0.timeline == 1 })
        for backup in backups {
            #expect(backup.beginTime <= backup.endTime)
            #expect(segmentNames(backup.beginWAL, backup.endWAL).count >= 1, "\(backup.id) WAL range")
            let shown = try fixtures.barmanShow(backup.id)
            #expect(
                shown.beginWAL == backup.beginWAL && shown.endWAL == backup.endWAL && shown.endTime == backup.endTime)
        }
        let keys = try s3Keys(fixtures.barman, under: fixtures.barmanServerPrefix)
        for backup in backups {
            #expect(keys.contains("base/\(backup.id)/backup.info"))
            #expect(keys.contains("base/\(backup.id)/data.tar"))
        }
    }

    @Test func everyArchiveHoldsEverySegmentFromTheFirstBackupsStartToTheNewest() throws {
        let fixtures = try PostgresFixtures.load()
        let archive = try #require(try fixtures.pgBackRestInfo(repo: 1).archives.first)
        let first = try #require(try fixtures.pgBackRestInfo(repo: 1).backups.first?.archiveStart)
        let expected = Set(segmentNames(first, try #require(archive.max)))
        #expect(expected.count >= 10)

        let local = try PostgresFixtures.archivedFiles(
            inRepository: fixtures.repo1Path, stanza: fixtures.stanza, archiveID: archive.id)
        #expect(expected.isSubset(of: segments(Array(local.keys))))
        #expect(local.keys.contains { $0.hasSuffix(".backup") }, "backup label files are archived too")
        #expect(
            local.keys.filter { WALSegment.parse($0.prefix(24)) != nil && $0.dropFirst(24).hasPrefix("-") }
                .allSatisfy { $0.count == 24 + 1 + 40 + 3 && $0.hasSuffix(".gz") })

        let remote = try s3Keys(fixtures.repo2, under: "\(fixtures.repo2.prefix)/archive/\(fixtures.stanza)")
        #expect(remote.contains("archive.info"))
        #expect(expected.isSubset(of: segments(remote)))

        let barman = try s3Keys(fixtures.barman, under: "\(fixtures.barmanServerPrefix)/wals")
        #expect(expected.isSubset(of: segments(barman)))
        #expect(barman.allSatisfy { $0.hasSuffix(".gz") }, "barman-cloud-wal-archive --gzip")
    }

    @Test func theTargetTimeLiesAfterTheNewestBackupBetweenTheMarkerRows() throws {
        let fixtures = try PostgresFixtures.load()
        let newest = try #require(try fixtures.pgBackRestInfo(repo: 1).backups.last)
        #expect(newest.stop < fixtures.before.writtenAt)
        #expect(fixtures.before.writtenAt < fixtures.pitrTargetTime)
        #expect(fixtures.pitrTargetTime < fixtures.after.writtenAt)
        #expect(fixtures.pitrTargetTime.timeIntervalSince(fixtures.before.writtenAt) >= 1)
        #expect(fixtures.after.writtenAt.timeIntervalSince(fixtures.pitrTargetTime) >= 1)
        #expect(fixtures.pitrTarget.hasSuffix("+00") && fixtures.pitrTarget.count == "2026-11-25 16:11:22+00".count)
    }

    @Test func aRestoreToTheTargetTimeHasTheRowWrittenBeforeItAndNotTheOneAfter() throws {
        let fixtures = try PostgresFixtures.load()
        let rows = try fixtures.restoreAndQuery(
            target: fixtures.pitrTarget, sql: "select name from \(fixtures.markerTable) order by written_at")
        #expect(rows == [fixtures.before.name])
    }

    @Test func aRestoreToTheEndOfTheArchiveHasBothMarkerRows() throws {
        let fixtures = try PostgresFixtures.load()
        let rows = try fixtures.restoreAndQuery(
            target: nil, sql: "select name from \(fixtures.markerTable) order by written_at")
        #expect(rows == [fixtures.before.name, fixtures.after.name])
    }

    @Test func aCopyMissingOneSegmentAfterTheNewestBackupCannotBeRestoredToTheTarget() throws {
        let fixtures = try PostgresFixtures.load()
        let info = try fixtures.pgBackRestInfo(repo: 1)
        let stop = try #require(info.backups.last?.archiveStop)
        let max = try #require(info.archives.first?.max)
        let missing = try #require(WALSegment.parse(stop)).next.name
        #expect(missing < max)
        let copy = try fixtures.copyRepository()
        let files = try PostgresFixtures.archivedFiles(
            inRepository: copy.path, stanza: fixtures.stanza, archiveID: try #require(info.archives.first?.id))
        let victim = try #require(files.first { $0.key.hasPrefix(missing + "-") }?.value)
        try FileManager.default.removeItem(atPath: victim)
        let error = #expect(throws: DRAuditError.self) {
            try fixtures.restoreAndQuery(target: fixtures.pitrTarget, sql: "select 1", repository: copy.path)
        }
        #expect(error?.message.contains("recovery ended before configured recovery target was reached") == true)
        // The shared repository is untouched.
        #expect(
            FileManager.default.fileExists(atPath: victim.replacingOccurrences(of: copy.path, with: fixtures.repo1Path))
        )
    }
}
