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

    @Test func aLongerRunGapKeepsSitesThatTrickleInInOneRun() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA])
            + [portalFile(PortalFileName.format(kind: .site, site: siteB, time: utc("2026-01-01T01:50:00Z")))]
        #expect(Pairing.runs(files).count == 2)
        var policy = PairingPolicy()
        policy.runGap = 60 * 60
        let runs = Pairing.runs(files, policy: policy)
        #expect(runs.count == 1)
        #expect(runs[0].isComplete)
    }

    @Test func aScheduledRunExpectsItsOwnSitesThoseOfTheRunBeforeAndThoseSeenBeforeAndAfter() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB])
            + run("2026-01-02T01:00:00Z", sites: [siteA])  // B missing: in the run before
            + run("2026-01-03T01:00:00Z", sites: [siteA])  // B missing: seen before and after
            + run("2026-01-04T01:00:00Z", sites: [siteA, siteB, siteC])  // C new: not expected earlier
            + run("2026-01-05T01:00:00Z", sites: [siteA, siteC])  // B missing: in the run before
        let runs = Pairing.runs(files)
        #expect(runs.map(\.missingSites) == [[], [siteB], [siteB], [], [siteB]])
        #expect(runs.map(\.isComplete) == [true, false, false, true, false])
    }

    @Test func lastNightsFailedSiteBackupMakesTheNewestRunIncomplete() {
        let files = run("2026-01-01T01:00:00Z", sites: [siteA, siteB]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let result = Pairing.runs(PortalInventory(files), policy: PairingPolicy())
        #expect(result.runs.last?.missingSites == [siteB])
        #expect(result.stopped.isEmpty)  // missing from the newest run only: that run's finding
    }

    @Test func aSiteInNeitherOfTheTwoNewestRunsHasStopped() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-03T01:00:00Z", sites: [siteA])
        let result = Pairing.runs(PortalInventory(files), policy: PairingPolicy())
        #expect(result.stopped == [StoppedSite(site: siteB, lastRun: utc("2026-01-01T01:00:00Z"))])
        // Reported missing once, in the run after its last; the newest run is complete.
        #expect(result.runs.map(\.missingSites) == [[], [siteB], []])
    }

    @Test func retiredSitesAreNeverExpected() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-03T01:00:00Z", sites: [siteA])
        var policy = PairingPolicy()
        policy.retiredSites = [siteB]
        let result = Pairing.runs(PortalInventory(files), policy: policy)
        #expect(result.runs.allSatisfy { $0.isComplete })
        #expect(result.stopped.isEmpty)
    }

    @Test func runWithoutSystemOrWithAnEmptyFileIsIncomplete() {
        var policy = PairingPolicy()
        policy.portalSchedule = CronSchedule("0 1 * * *")
        let noSystem = Pairing.runs(run("2026-01-01T01:00:00Z", sites: [siteA], system: false), policy: policy)
        #expect(noSystem[0].isScheduled)
        #expect(noSystem[0].system == nil)
        #expect(!noSystem[0].isComplete)
        var files = run("2026-01-01T01:00:00Z", sites: [siteA])
        files[1].size = 0
        let empty = Pairing.runs(files)
        #expect(empty[0].emptyFiles.count == 1)
        #expect(!empty[0].isComplete)
    }

    @Test func skewIsTheDistanceToTheRunsFarthestFile() {
        let r = Pairing.runs(run("2026-01-01T01:00:00Z", sites: [siteA, siteB]))[0]  // 01:00:00 … 01:00:20
        #expect(Pairing.skew(utc("2026-01-01T01:00:10Z"), r) == 10)
        #expect(Pairing.skew(utc("2026-01-01T00:50:00Z"), r) == 620)
        #expect(Pairing.skew(utc("2026-01-01T01:10:20Z"), r) == 620)
    }

    @Test func aRunStartedWithinToleranceAfterAScheduleFiringIsScheduledAndOthersAreManual() {
        var policy = PairingPolicy()
        policy.portalSchedule = CronSchedule("0 1 * * *")
        let files =
            run("2026-01-01T01:00:05Z", sites: [siteA, siteB]) + run("2026-01-01T01:29:00Z", sites: [siteB])
            + run("2026-01-01T14:00:00Z", sites: [siteA], system: false)
        // With a one-minute run gap, 01:29 is a run of its own, still within 30 minutes of the 01:00 firing.
        policy.runGap = 60
        let runs = Pairing.runs(PortalInventory(files), policy: policy).runs
        #expect(runs.map(\.isScheduled) == [true, true, false])
    }

    @Test func withoutAKnownScheduleARunHoldingASystemBackupIsScheduled() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB])
            + run("2026-01-01T14:00:00Z", sites: [siteA], system: false)
        let runs = Pairing.runs(files)
        #expect(runs.map(\.isScheduled) == [true, false])
    }

    @Test func aManualSiteBackupIsNeverIncompleteAndExpectsNothingOfLaterRuns() {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB])
            + run("2026-01-01T14:00:00Z", sites: [siteC], system: false)  // manual: one site, by hand
            + run("2026-01-02T01:00:00Z", sites: [siteA, siteB])
        let result = Pairing.pair(portalFiles: files, restorableManagement: [], policy: PairingPolicy())
        #expect(result.incompleteRuns.isEmpty)
        #expect(result.manualRuns.count == 1)
        #expect(result.manualRuns[0].missingSites.sorted() == [siteA, siteB].sorted())
        #expect(result.stoppedSites.isEmpty)  // C was never in a scheduled run
    }

    @Test func aCompleteManualRunPairs() {
        var policy = PairingPolicy()
        policy.portalSchedule = CronSchedule("0 1 * * *")
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-01T14:00:00Z", sites: [siteA])
        let manual = full("2026-01-01T14:05:00Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [manual], policy: policy)
        #expect(result.manualRuns.count == 1 && result.manualRuns[0].isComplete)
        #expect(result.pairs.map(\.run.start) == [utc("2026-01-01T14:00:00Z")])
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
        #expect(result.pairs[0].skew == 180)  // to the run's first file, 01:00:00
        #expect(result.pairs[0].restorePoint == i.time)
        #expect(result.pairs[0].recovery == .backup)
        #expect(result.unpairedManagement.isEmpty && result.unpairedRuns.isEmpty)
    }

    @Test func toleranceIsInclusive() {
        let files = run("2026-01-01T01:00:00Z", sites: [siteA])  // 01:00:00 … 01:00:10
        let atEdge = full("2026-01-01T01:30:00Z")
        let beyond = full("2026-01-01T01:30:01Z")
        #expect(Pairing.pair(portalFiles: files, restorableManagement: [atEdge], policy: policy).pairs.count == 1)
        let none = Pairing.pair(portalFiles: files, restorableManagement: [beyond], policy: policy)
        #expect(none.pairs.isEmpty)
        #expect(none.unpairedManagement.map(\.id) == [beyond.id])
        #expect(none.unpairedRuns.count == 1)
    }

    @Test func eachRunGetsTheNearestPointAndABackupNearAnotherRunIsNotUnpaired() {
        let files = run("2026-01-01T01:00:00Z", sites: [siteA])
        let near = full("2026-01-01T01:05:00Z")
        let far = full("2026-01-01T00:40:00Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [far, near], policy: policy)
        #expect(result.pairs.map(\.management.id) == [near.id])
        // Within tolerance of the run, though the run chose another point: not reported as unpaired.
        #expect(result.unpairedManagement.isEmpty)
    }

    @Test func pointsAreNotUsedUpTwoRunsMayShareABackup() {
        // A manual run at 01:20 and the scheduled one at 01:00 (a 1-minute run gap keeps them apart).
        var policy = self.policy
        policy.runGap = 60
        let files = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-01T01:20:00Z", sites: [siteA])
        let m = full("2026-01-01T01:10:00Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [m], policy: policy)
        #expect(result.pairs.count == 2)
        #expect(Set(result.pairs.map(\.management.id)) == [m.id])
    }

    @Test func tiesGoToTheLaterPoint() {
        let files = run("2026-01-01T01:00:00Z", sites: [siteA])  // middle 01:00:05
        let before = full("2026-01-01T00:55:05Z")
        let after = full("2026-01-01T01:05:05Z")
        let result = Pairing.pair(portalFiles: files, restorableManagement: [before, after], policy: policy)
        #expect(result.pairs.map(\.management.id) == [after.id])
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
        let state = Restorability.assess([f, i1, i2, orphan], wal: WALInventory())
        #expect(state.problems[i2.id]?.contains(i1.id) == true)
        #expect(state.problems[orphan.id] == "prior 20251231-010000F is missing")
        let contradictedPrior = Restorability.assess(
            [f, i2, incr("2026-01-02T01:00:00Z", on: f, full: f)],
            wal: WALInventory(), contradicted: [f.id])
        #expect(contradictedPrior.problems[i2.id]?.contains("marked Failed") == true)
        var loop = f
        loop.prior = f.id
        #expect(Restorability.assess([loop], wal: WALInventory()).problems[f.id]?.contains("loops") == true)
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

    /// The point search looks only at the backups around a run's middle; it must find what trying every point finds.
    @Test func pairingFindsWhatTryingEveryPointFinds() {
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
        var expected: [String] = []
        for run in Pairing.runs(files).filter(\.isComplete) {
            let best = backups.min {
                (Pairing.skew($0.time, run), -$0.time.timeIntervalSince1970)
                    < (Pairing.skew($1.time, run), -$1.time.timeIntervalSince1970)
            }!
            if Pairing.skew(best.time, run) <= policy.tolerance { expected.append("\(best.id) \(run.start)") }
        }
        #expect(result.pairs.map { "\($0.management.id) \($0.run.start)" }.sorted() == expected.sorted())
        #expect(!expected.isEmpty)
    }
}
