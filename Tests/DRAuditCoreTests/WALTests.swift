import Foundation
import Testing

@testable import DRAuditCore

struct WALSegmentTests {
    @Test func afterSegmentFFComesTheNextLogsFirst() throws {
        let last = try #require(WALSegment.parse("0000000100000003000000FF"))
        #expect(last.next.name == "000000010000000400000000")
        #expect(last.next.number == last.number + 1)
        #expect(WALSegment(timeline: 2, log: 0x1A, segment: 0x0B).name == "000000020000001A0000000B")
    }

    @Test(arguments: [
        "00000001000000030000000", "0000000100000003000000FFF", "000000010000000300000100",  // not one 16 MiB log
        "0000000100000003000000ff", "00000001000000030000000G", "000000010000000300000 FF",
    ])
    func namesThatAreNotSegments(name: String) {
        #expect(WALSegment.parse(name) == nil)
    }

    @Test func timelinesOrderBeforePositions() throws {
        let a = try #require(WALSegment.parse("0000000100000009000000FF"))
        let b = try #require(WALSegment.parse("000000020000000000000001"))
        #expect(a < b)
    }
}

struct WALFileNameTests {
    static let sha = "47c8d49b9975fad576c87e39d2a34e18633970d6"

    @Test(arguments: [
        ("000000010000000000000002-\(sha).gz", true, WALFileName.Kind.segment),
        ("000000010000000000000002-\(sha).lz4", true, .segment),
        ("000000010000000000000002-\(sha).zst", true, .segment),
        ("000000010000000000000002-\(sha)", true, .segment),
        ("000000010000000000000002.partial-\(sha).gz", true, .partial),
        ("000000010000000000000002.00000028.backup", true, .backupLabel),
        ("00000002.history", true, .history),
        ("000000010000000000000002.gz", false, .segment),
        ("000000010000000000000002.bz2", false, .segment),
        ("000000010000000000000002.snappy", false, .segment),
        ("000000010000000000000002", false, .segment),
        ("000000010000000000000002.partial", false, .partial),
        ("000000010000000000000002.00000028.backup.gz", false, .backupLabel),
        ("00000002.history.gz", false, .history),
    ])
    func archiveFileNames(name: String, pgBackRest: Bool, kind: WALFileName.Kind) throws {
        let file = try #require(WALFileName.parse(name, withChecksum: pgBackRest))
        #expect(file.kind == kind)
        #expect(file.segment.timeline == (kind == .history ? 2 : 1))
    }

    @Test func pgBackRestSegmentsCarryTheirChecksum() {
        #expect(WALFileName.parse("000000010000000000000002.gz", withChecksum: true) == nil)
        #expect(WALFileName.parse("000000010000000000000002-47c8d49b.gz", withChecksum: true) == nil)
        #expect(WALFileName.parse("000000010000000000000002-\(Self.sha).tar.gz", withChecksum: true) == nil)
    }
}

struct WALInventoryTests {
    @Test func consecutiveSegmentsFormOneRunAndAHoleStartsAnother() {
        let wal = walInventory(
            from: utc("2026-01-01T00:05:00Z"), to: utc("2026-01-01T02:00:00Z"), holes: [utc("2026-01-01T01:00:00Z")])
        let line = wal.runs[WALInventory.Line(archive: walArchive, timeline: 1)]!
        #expect(line.map { [$0.first, $0.last] } == [[1, 11], [13, 24]])
        #expect(wal.segmentCount == 23)
        #expect(line[0].lastTime == Int64(utc("2026-01-01T00:55:00Z").timeIntervalSince1970))
        #expect(wal.newestTime == Int64(utc("2026-01-01T02:00:00Z").timeIntervalSince1970))
    }

    @Test func aSegmentArchivedTwiceCountsOnceAtItsEarliestTime() {
        let s = WALSegment(timeline: 1, number: 5)
        let wal = WALInventory([
            (walArchive, s, utc("2026-01-01T01:00:00Z")), (walArchive, s, utc("2026-01-01T00:30:00Z")),
            (walArchive, s.next, utc("2026-01-01T01:05:00Z")),
        ])
        #expect(wal.segmentCount == 2)
        #expect(
            wal.run(holding: s, in: walArchive)?.run.firstTime
                == Int64(utc("2026-01-01T00:30:00Z").timeIntervalSince1970))
    }

    @Test func timelinesAndArchivesAreSeparateSequences() {
        let wal = WALInventory([
            (walArchive, WALSegment(timeline: 1, number: 7), utc("2026-01-01T01:00:00Z")),
            (walArchive, WALSegment(timeline: 2, number: 8), utc("2026-01-01T01:05:00Z")),
            ("other/wals", WALSegment(timeline: 1, number: 8), utc("2026-01-01T01:05:00Z")),
        ])
        #expect(wal.run(holding: WALSegment(timeline: 1, number: 7), in: walArchive)?.run.last == 7)
        #expect(wal.run(holding: WALSegment(timeline: 1, number: 8), in: walArchive) == nil)
        #expect(wal.runs.count == 3)
    }
}

struct RecoveryWindowTests {
    let day1 = utc("2026-01-01T00:00:00Z")

    @Test func aBackupWhoseConsistencyWALIsMissingIsNotRestorableNorAnyBuiltOnIt() {
        let f = archived(full("2026-01-01T01:00:00Z", stopAfter: 600))
        let i = archived(incr("2026-01-02T01:00:00Z", on: f, full: f))
        // The segment written at 01:07 on the first day is gone.
        let wal = walInventory(from: day1, to: utc("2026-01-02T02:00:00Z"), holes: [utc("2026-01-01T01:07:00Z")])
        let state = Restorability.assess([f, i], wal: wal)
        #expect(state.restorable.isEmpty)
        #expect(state.walMissing[f.id] == walSegment(at: utc("2026-01-01T01:07:00Z")))
        #expect(state.problems[i.id]?.hasPrefix("prior \(f.id) cannot be restored: WAL segment") == true)
        var input = AuditInput(now: utc("2026-01-02T02:00:00Z"), policy: PairingPolicy())
        input.managementBackups = [f, i]
        input.wal = wal
        let codes = Audit.assess(input).findings.map(\.code)
        #expect(codes.contains("MGMT_WAL_MISSING") && codes.contains("MGMT_CHAIN_BROKEN"))
    }

    @Test func aBackupThatCarriesItsWALOrNamesNoRangeIsJudgedWithoutTheArchive() {
        var copy = archived(full("2026-01-01T01:00:00Z"))
        copy.archiveCopy = true
        let unnamed = full("2026-01-02T01:00:00Z")
        let state = Restorability.assess([copy, unnamed], wal: WALInventory())
        #expect(state.restorable.map(\.id) == [copy.id, unnamed.id])
        #expect(state.walUnchecked.map(\.id) == [unnamed.id])
        #expect(state.windows.isEmpty)
    }

    @Test func theWindowRunsFromTheStopToTheLastSegmentOfTheUnbrokenSequence() throws {
        let f = archived(full("2026-01-01T01:00:00Z", stopAfter: 300))
        let wal = walInventory(from: day1, to: utc("2026-01-01T20:00:00Z"))
        let state = Restorability.assess([f], wal: wal)
        let window = try #require(state.windows.first)
        #expect(window.from == f.time)
        #expect(window.to == utc("2026-01-01T20:00:00Z"))
        #expect(state.gaps.isEmpty)
    }

    @Test func aHoleEndsTheWindowAndIsAGapWithBothSidesNamed() throws {
        let f = archived(full("2026-01-01T01:00:00Z", stopAfter: 300))
        let g = archived(full("2026-01-01T18:00:00Z", stopAfter: 300))
        let wal = walInventory(from: day1, to: utc("2026-01-01T20:00:00Z"), holes: [utc("2026-01-01T12:02:00Z")])
        let state = Restorability.assess([f, g], wal: wal)
        #expect(state.windows.map(\.to) == [utc("2026-01-01T12:00:00Z"), utc("2026-01-01T20:00:00Z")])
        let gap = try #require(state.gaps.first)
        #expect(gap.lastBefore.number + 2 == gap.firstAfter.number)
        #expect(gap.lastBeforeTime == utc("2026-01-01T12:00:00Z"))
        #expect(gap.firstAfterTime == utc("2026-01-01T12:10:00Z"))
        #expect(gap.backups == [f.id])
        #expect(state.recoveryWindows.count == 2)
    }

    @Test func windowsOfConsecutiveBackupsThatOverlapAreMerged() {
        let f = archived(full("2026-01-01T01:00:00Z", stopAfter: 300))
        let i = archived(incr("2026-01-02T01:00:00Z", on: f, full: f))
        let state = Restorability.assess([f, i], wal: walInventory(from: day1, to: utc("2026-01-03T00:00:00Z")))
        #expect(state.windows.count == 2)
        #expect(state.recoveryWindows.count == 1)
        #expect(state.recoveryWindows[0].backups == [f.id, i.id])
        #expect(state.recoveryWindows[0].from == f.time)
        #expect(state.recoveryWindows[0].to == utc("2026-01-03T00:00:00Z"))
    }
}

struct PointInTimePairingTests {
    let policy = PairingPolicy(tolerance: 30 * 60, rpo: 26 * 3600)

    func pairs(
        _ files: [PortalBackupFile], _ backups: [ManagementBackup], _ wal: WALInventory,
        policy: PairingPolicy? = nil
    ) -> PairingResult {
        let state = Restorability.assess(backups, wal: wal)
        return Pairing.pair(portal: PortalInventory(files), management: state, policy: policy ?? self.policy)
    }

    @Test func aLateManagementBackupsRunPairsByPITRAtHalfTheRunsSpread() throws {
        let f = archived(full("2026-01-01T01:05:00Z"))
        let late = archived(full("2026-01-02T04:30:00Z"))  // 3.5 h after the run
        // The second night's run: its system backup at 01:00, its site at 01:02.
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA])
            + [
                portalFile(PortalFileName.format(kind: .system, site: nil, time: utc("2026-01-02T01:00:00Z"))),
                portalFile(PortalFileName.format(kind: .site, site: siteA, time: utc("2026-01-02T01:02:00Z"))),
            ]
        let result = pairs(
            files, [f, late], walInventory(from: utc("2026-01-01T00:00:00Z"), to: utc("2026-01-02T06:00:00Z")))
        let newest = try #require(result.pairs.first)
        #expect(newest.recovery == .pitr)
        #expect(newest.management.id == f.id)  // the newest backup at or before the point whose window holds it
        #expect(newest.point == utc("2026-01-02T01:01:00Z"))  // the run's middle
        #expect(newest.skew == 60)  // half the run's spread
        #expect(newest.pitrTarget == newest.point)
    }

    @Test func aFailedIncrementalsNightPairsThroughThePreviousBackupsWindow() throws {
        let f = archived(full("2026-01-01T01:05:00Z"))
        let failed = archived(incr("2026-01-02T01:05:00Z", on: f, full: f, status: .failed))
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let result = pairs(
            files, [f, failed], walInventory(from: utc("2026-01-01T00:00:00Z"), to: utc("2026-01-02T02:00:00Z")))
        #expect(result.pairs.count == 2)
        #expect(result.pairs.map(\.management.id) == [f.id, f.id])
        #expect(result.pairs[0].recovery == .pitr)
    }

    @Test func aHoleCutsTheWindowSoTheNightAfterItDoesNotPair() {
        let f = archived(full("2026-01-01T01:05:00Z"))
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let wal = walInventory(
            from: utc("2026-01-01T00:00:00Z"), to: utc("2026-01-02T02:00:00Z"),
            holes: [utc("2026-01-01T13:00:00Z")])
        let result = pairs(files, [f], wal)
        #expect(result.pairs.map(\.run.start) == [utc("2026-01-01T01:00:00Z")])
        #expect(result.unpairedRuns.map(\.start) == [utc("2026-01-02T01:00:00Z")])
    }

    @Test func withPITROffOnlyBackupPointsPair() {
        let f = archived(full("2026-01-01T01:05:00Z"))
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        var off = policy
        off.pitr = false
        let result = pairs(
            files, [f], walInventory(from: utc("2026-01-01T00:00:00Z"), to: utc("2026-01-02T02:00:00Z")),
            policy: off)
        #expect(result.pairs.map(\.recovery) == [.backup])
        #expect(result.pairs[0].point == f.time)
        #expect(result.pairs[0].pitrTarget == f.time.addingTimeInterval(1))
    }

    @Test func barmanWindowsAreReportedButOnlyItsBackupPointsPair() {
        var b = archived(full("2026-01-01T01:05:00Z"))
        b.id = "management-db/20260101T010500"
        b.format = .barman
        b.wal?.archive = "management-db/wals"
        let wal = WALInventory(
            (0...300).map { n in
                let s = WALSegment(timeline: 1, number: walSegment(at: b.start).number + UInt64(n))
                return ("management-db/wals", s, walTime(s))
            })
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let result = pairs(files, [b], wal)
        #expect(result.recoveryWindows.count == 1)
        #expect(result.pairs.map(\.recovery) == [.backup])
        #expect(result.pairs[0].pitrTarget == nil)
        #expect(result.unpairedRuns.map(\.start) == [utc("2026-01-02T01:00:00Z")])
    }
}

struct ReplayedWALTests {
    /// A pgBackRest object key of an archived segment, as the index lists it.
    func key(_ segment: WALSegment) -> String {
        "\(walArchive)/\(segment.name.prefix(16))/\(segment.name)-\(String(repeating: "a", count: 40)).gz"
    }

    func listed(_ numbers: [UInt64]) -> [ReplayWAL.Segment] {
        numbers.map { n in
            let segment = WALSegment(timeline: 1, number: n)
            return ReplayWAL.Segment(
                key: key(segment), size: 100, segment: segment,
                time: Int64(walTime(segment).timeIntervalSince1970))
        }
    }

    @Test func theReplayReadsFromAfterTheBackupsWALStopThroughTheFirstSegmentArchivedAtTheTarget() throws {
        let from = WALSegment(timeline: 1, number: 20)
        let target = walTime(WALSegment(timeline: 1, number: 30)).addingTimeInterval(-60)
        let needed = ReplayWAL.needed(listed(Array(10...60)), from: from, target: target)
        #expect(needed.map(\.segment.number) == Array(20...30))
    }

    /// pgBackRest refuses a segment it finds twice in the archive: every copy is part of the replay.
    @Test func theReplayStopsAtAHoleAndReadsEveryCopyOfASegmentArchivedTwice() {
        let from = WALSegment(timeline: 1, number: 20)
        let target = walTime(WALSegment(timeline: 1, number: 40))
        var segments = listed([20, 21, 21, 22, 24, 25])
        segments[2].key += ".again"
        #expect(ReplayWAL.needed(segments, from: from, target: target).map(\.key) == segments.prefix(4).map(\.key))
        // A second copy of the last segment needed is read too.
        let end = walTime(WALSegment(timeline: 1, number: 21))
        #expect(ReplayWAL.needed(segments, from: from, target: end).count == 3)
    }

    @Test func anUncompressedSegmentOfAnotherSizeThanSixteenMiBIsCorrupt() {
        let segment = WALSegment(timeline: 1, number: 30)
        let plain = "\(walArchive)/\(segment.name.prefix(16))/\(segment.name)-\(String(repeating: "b", count: 40))"
        func result(_ key: String, _ size: Int64) -> VerificationResult {
            Verification.walResult(
                ReplayWAL.Segment(key: key, size: size, segment: segment, time: 0), nil, bytesRead: 0,
                checkedAt: walBase)
        }
        #expect(result(plain, 2).outcome == .failed)
        #expect(result(plain, 2).code == "ARCHIVE_CORRUPT")
        #expect(result(plain, 16 << 20).skipped == Verification.walUncompressedReason)
        #expect(result(plain + ".lz4", 2).skipped == Verification.walNotGzipReason)
    }

    @Test func aResultAboutASegmentsKeyIsWALEvidenceAndNotABackups() throws {
        let segment = WALSegment(timeline: 1, number: 77)
        let failed = VerificationResult(
            role: .management, subject: key(segment), outcome: .failed, code: "ARCHIVE_CORRUPT", detail: "gzip",
            checkedAt: walBase, deep: true)
        let backup = VerificationResult(
            role: .management, subject: "20260101-010000F", outcome: .failed, checkedAt: walBase, deep: true)
        let evidence = VerificationEvidence(latest: [failed, backup])
        #expect(evidence.unreadableWAL == [WALPosition(archive: walArchive, segment: segment)])
        #expect(evidence.failedManagement == ["20260101-010000F"])
    }

    /// The night after a full backup pairs through its window; a segment of that replay that failed verification is
    /// a hole: the window ends before it, the night's run no longer pairs, and the findings say why.
    @Test func aReplayedSegmentThatFailedVerificationCutsTheWindowLikeAHole() throws {
        let f = archived(full("2026-01-01T01:05:00Z"))
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let corrupt = walSegment(at: utc("2026-01-01T13:00:00Z"))
        var input = AuditInput(now: utc("2026-01-02T03:00:00Z"), policy: PairingPolicy(tolerance: 1800, rpo: 26 * 3600))
        input.portal = PortalInventory(files)
        input.managementBackups = [f]
        input.wal = walInventory(from: utc("2026-01-01T00:00:00Z"), to: utc("2026-01-02T02:00:00Z"))
        let before = Audit.assess(input)
        #expect(before.pairing.pairs.map(\.recovery) == [.pitr, .backup])

        input.verification = VerificationEvidence(latest: [
            VerificationResult(
                role: .management, subject: key(corrupt), outcome: .failed, code: "ARCHIVE_CORRUPT",
                detail: "gzip member 1: incorrect data check", checkedAt: input.now, deep: true)
        ])
        input.verification.readableWAL = walInventory(
            from: utc("2026-01-01T00:00:00Z"), to: utc("2026-01-02T02:00:00Z"), holes: [utc("2026-01-01T13:00:00Z")])
        let after = Audit.assess(input)
        #expect(after.pairing.pairs.map(\.run.start) == [utc("2026-01-01T01:00:00Z")])
        let corruptFinding = try #require(after.findings.first { $0.code == "ARCHIVE_CORRUPT" })
        #expect(corruptFinding.severity == .fail)  // the newest pair replayed it
        #expect(corruptFinding.message.contains("point-in-time recovery cannot replay past it"))
        let gap = try #require(after.findings.first { $0.code == "MGMT_WAL_GAP" })
        #expect(gap.message.contains("(\(corrupt.name) failed verification)"))
        #expect(after.management.windows.first?.to == walTime(WALSegment(timeline: 1, number: corrupt.number - 1)))
    }

    @Test func aBackupWhoseConsistencySegmentFailedVerificationSaysSo() throws {
        let f = archived(full("2026-01-01T01:00:00Z", stopAfter: 600))
        let corrupt = walSegment(at: utc("2026-01-01T01:07:00Z"))
        var input = AuditInput(now: utc("2026-01-01T03:00:00Z"), policy: PairingPolicy())
        input.managementBackups = [f]
        input.wal = walInventory(from: walBase, to: utc("2026-01-01T02:00:00Z"))
        input.verification = VerificationEvidence(latest: [
            VerificationResult(
                role: .management, subject: key(corrupt), outcome: .failed, code: "ARCHIVE_CORRUPT",
                checkedAt: input.now, deep: true)
        ])
        input.verification.readableWAL = walInventory(
            from: walBase, to: utc("2026-01-01T02:00:00Z"), holes: [utc("2026-01-01T01:07:00Z")])
        let missing = try #require(Audit.assess(input).findings.first { $0.code == "MGMT_WAL_MISSING" })
        #expect(missing.message.hasSuffix("in \(walArchive) failed verification"))
    }
}
