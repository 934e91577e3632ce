import Foundation
import Testing

@testable import DRAuditCore

struct PortalRunTests {
    @Test func aGapOverThirtyMinutesStartsANewRun() {
        let t0 = utc("2026-01-01T01:00:00Z")
        let offsets: [TimeInterval] = [0, 1740, 3480, 3480 + 1801]
        let files = offsets.map {
            portalFile(PortalFileName.format(kind: .site, site: siteA, time: t0.addingTimeInterval($0)))
        }
        let runs = Pairing.runs(files)
        #expect(runs.count == 2)
        #expect(runs[0].files.count == 3)
        #expect(runs[0].end == t0.addingTimeInterval(58 * 60))
        #expect(runs[1].files.count == 1)
    }

    @Test func expectedSitesAreThisRunsAndThoseSeenBothBeforeAndAfter() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB])
            + run("2026-01-02T01:00:00Z", sites: [siteA])  // B missing: seen before and after
            + run("2026-01-03T01:00:00Z", sites: [siteA, siteB, siteC])  // C new: not expected earlier
            + run("2026-01-04T01:00:00Z", sites: [siteA, siteC])  // B retired: not expected (never seen later)
        let runs = Pairing.runs(files)
        #expect(runs.map(\.missingSites) == [[], [siteB], [], []])
        #expect(runs.map(\.isComplete) == [true, false, true, true])
    }

    @Test func runWithoutSystemOrWithAnEmptyFileIsIncomplete() {
        let noSystem = Pairing.runs(run("2026-01-01T01:00:00Z", sites: [siteA], system: false))
        #expect(noSystem[0].system == nil)
        #expect(!noSystem[0].isComplete)
        var files = run("2026-01-01T01:00:00Z", sites: [siteA])
        files[1].size = 0
        let empty = Pairing.runs(files)
        #expect(empty[0].emptyFiles.count == 1)
        #expect(!empty[0].isComplete)
    }

    @Test func skewIsTheDistanceToTheRunsInterval() {
        let r = Pairing.runs(run("2026-01-01T01:00:00Z", sites: [siteA, siteB]))[0]  // 01:00:00 … 01:00:20
        #expect(Pairing.skew(utc("2026-01-01T01:00:10Z"), r) == 0)
        #expect(Pairing.skew(utc("2026-01-01T00:50:00Z"), r) == 600)
        #expect(Pairing.skew(utc("2026-01-01T01:10:20Z"), r) == 600)
    }
}

struct PairingRuleTests {
    let policy = PairingPolicy(tolerance: 30 * 60, rpo: 26 * 3600)

    @Test func pairsWithinToleranceNewestFirst() {
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let f = full("2026-01-01T01:02:00Z")
        let i = incr("2026-01-02T01:03:00Z", on: f, full: f)
        let result = Pairing.pair(portalFiles: files, restorableManagement: Pairing.restorable([f, i]), policy: policy)
        #expect(result.pairs.map(\.management.id) == [i.id, f.id])
        #expect(result.pairs[0].skew == 170)
        #expect(result.pairs[0].restorePoint == i.time)
        #expect(result.unpairedManagement.isEmpty && result.unpairedRuns.isEmpty)
    }

    @Test func toleranceIsInclusive() {
        let files = run("2026-01-01T01:00:00Z", sites: [siteA])  // ends 01:00:10
        let atEdge = full("2026-01-01T01:30:10Z")
        let beyond = full("2026-01-01T01:30:11Z")
        #expect(Pairing.pair(portalFiles: files, restorableManagement: [atEdge], policy: policy).pairs.count == 1)
        let none = Pairing.pair(portalFiles: files, restorableManagement: [beyond], policy: policy)
        #expect(none.pairs.isEmpty)
        #expect(none.unpairedManagement.map(\.id) == [beyond.id])
        #expect(none.unpairedRuns.count == 1)
    }

    @Test func eachSidePairsOnceNearestFirst() {
        // Two management backups near one run: the nearer one wins, the other stays unpaired.
        let files = run("2026-01-01T01:00:00Z", sites: [siteA])
        let near = full("2026-01-01T01:05:00Z")
        let far = full("2026-01-01T00:40:00Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [far, near], policy: policy)
        #expect(result.pairs.map(\.management.id) == [near.id])
        #expect(result.unpairedManagement.map(\.id) == [far.id])
    }

    @Test func nearestFirstIsGlobalNotGreedyInTime() {
        // Run A ends 01:00:10, run B starts 01:40:20. m1 (01:20:00) is slightly nearer A than B; m2 (01:02:10) is right after A.
        // Taking m1 first would give it A and leave m2 unpaired; nearest-first pairs m2–A, then m1–B.
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-01T01:40:20Z", sites: [siteA])
        let m1 = full("2026-01-01T01:20:00Z")
        let m2 = full("2026-01-01T01:02:10Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [m1, m2], policy: policy)
        #expect(result.pairs.count == 2)
        #expect(result.pairs.first { $0.management.id == m2.id }?.run.start == utc("2026-01-01T01:00:00Z"))
        #expect(result.pairs.first { $0.management.id == m1.id }?.run.start == utc("2026-01-01T01:40:20Z"))
    }

    @Test func tieGoesToTheLaterRun() {
        // Runs end 01:00:10 and start 02:00:00 (two runs, gap > 30 m); management halfway between, within tolerance of both.
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-01T01:50:20Z", sites: [siteA])
        let m = full("2026-01-01T01:25:15Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [m], policy: policy)
        #expect(result.pairs.count == 1)
        #expect(result.pairs[0].run.start == utc("2026-01-01T01:50:20Z"))
    }

    @Test func incompleteRunsAreNotPaired() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-03T01:00:00Z", sites: [siteA, siteB])
        let m = full("2026-01-02T01:01:00Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [m], policy: policy)
        #expect(result.pairs.isEmpty)
        #expect(result.incompleteRuns.map(\.missingSites) == [[siteB]])
    }

    @Test func brokenChainsAndContradictedBackupsAreNotRestorable() {
        let f = full("2026-01-01T01:00:00Z")
        let i1 = incr("2026-01-02T01:00:00Z", on: f, full: f, status: .incomplete)
        let i2 = incr("2026-01-03T01:00:00Z", on: i1, full: f)
        let orphan = ManagementBackup(
            id: "20260101-010000F_20260104-010000I", format: .pgbackrest, type: "incr",
            start: utc("2026-01-04T01:00:00Z"), stop: nil, prior: "20251231-010000F", status: .complete)
        #expect(Pairing.restorable([f, i1, i2, orphan]).map(\.id) == [f.id])
        #expect(Pairing.restorable([f], contradicted: [f.id]).isEmpty)
        let byID = Dictionary(uniqueKeysWithValues: [f, i1, i2, orphan].map { ($0.id, $0) })
        #expect(Pairing.chainProblem(i2, byID: byID)?.contains(i1.id) == true)
        #expect(Pairing.chainProblem(orphan, byID: byID) == "prior 20251231-010000F is missing")
        var loop = f
        loop.prior = f.id
        #expect(Pairing.chainProblem(loop, byID: [f.id: loop])?.contains("loops") == true)
    }
}

struct PortalInventoryTests {
    @Test func keepsNoNamesYetGivesBackEveryKey() {
        let keys = [
            "2020/_portal_system_backup-20200422.095734.tar.gz", "2020/04/\(siteA)-20200422.095725.tar.gz",
            "\(siteB)-20200422.095726.tar.gz", "2020/\(siteA)-20200423.095725.tar.gz",
        ]
        let files = keys.map { Classifier.portalFile(StorageObject(key: $0, size: 7, mtime: nil))! }
        let inventory = PortalInventory(files)
        #expect(inventory.files == files)
        #expect(inventory.sites == [siteA, siteB])
        #expect(inventory.folders == ["2020/", "2020/04/", ""])
        #expect(inventory.sorted().files.map(\.key) == [keys[1], keys[2], keys[0], keys[3]])
    }

    @Test func excludesFilesByNameInAnyFolder() {
        let files = [
            "a/\(siteA)-20200422.095725.tar.gz", "\(siteB)-20200422.095726.tar.gz",
            "_portal_system_backup-20200422.095734.tar.gz",
        ]
        .map { Classifier.portalFile(StorageObject(key: $0, size: 7, mtime: nil))! }
        let inventory = PortalInventory(files)
        let kept = inventory.excluding(fileNames: [
            "\(siteA)-20200422.095725.tar.gz", "_portal_system_backup-20200422.095734.tar.gz",
            "unknown@x@y-20200422.095725.tar.gz", "junk",
        ])
        #expect(kept.files.map(\.key) == ["\(siteB)-20200422.095726.tar.gz"])
    }

    /// The candidate search skips runs by binary search; it must find what trying every run finds.
    @Test func pairingFindsWhatTryingEveryRunFinds() {
        var generator = SystemRandomNumberGenerator()
        let t0 = utc("2026-01-01T01:00:00Z")
        var files: [PortalBackupFile] = []
        for day in 0..<60 where Int.random(in: 0..<5, using: &generator) > 0 {
            let start = t0.addingTimeInterval(Double(day * 43_200 + Int.random(in: 0..<3_600, using: &generator)))
            files += run(UTC.rfc3339(start), sites: [siteA, siteB])
        }
        let backups = (0..<80).map { i in
            full(UTC.rfc3339(t0.addingTimeInterval(Double(i * 16_000 + Int.random(in: 0..<7_200, using: &generator)))))
        }
        let policy = PairingPolicy(tolerance: 45 * 60)
        let result = Pairing.pair(portalFiles: files, restorableManagement: backups, policy: policy)
        let runs = Pairing.runs(files).filter(\.isComplete)
        var expected: [(m: Int, r: Int, skew: TimeInterval)] = []
        for (m, b) in backups.enumerated() {
            for (r, run) in runs.enumerated() where Pairing.skew(b.time, run) <= policy.tolerance {
                expected.append((m, r, Pairing.skew(b.time, run)))
            }
        }
        expected.sort {
            ($0.skew, -$0.r, -backups[$0.m].time.timeIntervalSince1970) < (
                $1.skew, -$1.r, -backups[$1.m].time.timeIntervalSince1970
            )
        }
        var usedM: Set<Int> = []
        var usedR: Set<Int> = []
        var pairs: [String] = []
        for c in expected where !usedM.contains(c.m) && !usedR.contains(c.r) {
            usedM.insert(c.m)
            usedR.insert(c.r)
            pairs.append("\(backups[c.m].id) \(runs[c.r].start)")
        }
        #expect(result.pairs.map { "\($0.management.id) \($0.run.start)" }.sorted() == pairs.sorted())
        #expect(!pairs.isEmpty)
    }
}
