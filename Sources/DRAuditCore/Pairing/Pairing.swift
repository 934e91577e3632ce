import Foundation

/// One portal backup run: the files written close together in time, a stretch of the (sorted) inventory. Files are
/// built out on demand: pairing a million files touches only their compact entries.
public struct PortalRun: Hashable, Sendable {
    public var start: Date
    public var end: Date
    /// Where its files sit in `inventory.entries`.
    public var range: Range<Int>
    /// Started by the portal's schedule (or, with no schedule known, holding a system backup); else a manual run.
    public var isScheduled: Bool
    /// Sites this run should hold but does not. For a manual run: those its nearest scheduled run expects.
    public var missingSites: [String]
    public var inventory: PortalInventory
    /// The run's system backup (the latest one, should there be several), as an entry index.
    var systemIndex: Int?
    var emptyCount: Int

    public var isComplete: Bool { systemIndex != nil && missingSites.isEmpty && emptyCount == 0 }
    public var fileCount: Int { range.count }
    public var files: [PortalBackupFile] { range.map(inventory.file) }
    public var system: PortalBackupFile? { systemIndex.map(inventory.file) }
    /// Halfway between its first and last file: the point nearest to all of them.
    public var middle: Date { start.addingTimeInterval(end.timeIntervalSince(start) / 2) }
    /// Files of zero bytes.
    public var emptyFiles: [PortalBackupFile] {
        emptyCount == 0 ? [] : range.filter { inventory.entries[$0].size == 0 }.map(inventory.file)
    }
    /// The entry index of the latest file per site (site ids of the inventory).
    public var siteEntries: [Int32: Int] {
        var latest: [Int32: Int] = [:]
        for i in range where !inventory.entries[i].isSystem { latest[inventory.entries[i].site] = i }
        return latest
    }
    /// How many sites this run holds.
    public var siteCount: Int { siteEntries.count }
    /// The entry indices of the latest file per site, by site name. Built on each call: keep the result.
    public var siteEntryIndices: [Int] {
        let rank = inventory.siteRanks()
        return siteEntries.sorted { rank[Int($0.key)] < rank[Int($1.key)] }.map(\.value)
    }
    /// The latest file per site in this run, by site name.
    public var siteFiles: [PortalBackupFile] { siteEntryIndices.map(inventory.file) }
    /// Their names, without building whole files.
    public var siteFileNames: [String] { siteEntryIndices.map { inventory.fileName(inventory.entries[$0]) } }

    // Two runs are the same when they cover the same files; the inventory itself is not compared.
    public static func == (a: PortalRun, b: PortalRun) -> Bool {
        a.start == b.start && a.end == b.end && a.isScheduled == b.isScheduled && a.missingSites == b.missingSites
            && a.files == b.files
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(start)
        hasher.combine(end)
        hasher.combine(range.count)
    }
}

public struct PairingPolicy: Hashable, Sendable {
    /// A new portal run starts where the gap to the previous file exceeds this.
    public var runGap: TimeInterval = 30 * 60
    /// Largest allowed skew between a management restore point and a portal run.
    public var tolerance: TimeInterval = 30 * 60
    /// Oldest acceptable newest restore point.
    public var rpo: TimeInterval = 26 * 3600
    /// The operator mirrors remote portal files as record CRs every 10 minutes; younger objects may lack one.
    public var recordGrace: TimeInterval = 15 * 60
    /// Whether points inside recovery windows may pair (`pairing.pitr: auto`), where the restore CR takes a target.
    public var pitr = true
    /// The portal CR's backup schedule (UTC); nil when not known.
    public var portalSchedule: CronSchedule?
    /// Sites deleted on purpose: never expected (`portal.retiredSites`).
    public var retiredSites: Set<String> = []

    public init(tolerance: TimeInterval = 30 * 60, rpo: TimeInterval = 26 * 3600) {
        self.tolerance = tolerance
        self.rpo = rpo
    }
}

public struct Pair: Hashable, Sendable {
    public enum Recovery: String, Hashable, Sendable { case backup, pitr }
    /// The backup a restore starts from: the point's own backup, or for a PITR point the base backup.
    public var management: ManagementBackup
    /// Where management is recovered to: the backup's stop time, or a moment of its recovery window.
    public var point: Date
    public var recovery: Recovery
    public var run: PortalRun
    public var skew: TimeInterval
    /// Management is restored first and the portal straight after: the pair recovers to the management point.
    public var restorePoint: Date { point }

    /// The restore CR's `pitrTarget`, where the restore form takes one (pgBackRest): a backup point's stop time plus
    /// one second, as IBM's DR scripts set it, so a restore never replays past the chosen portal run.
    public var pitrTarget: Date? {
        guard management.format == .pgbackrest else { return nil }
        return recovery == .backup ? point.addingTimeInterval(1) : point
    }
}

/// A site that stopped being backed up: seen in an earlier scheduled run, but in neither of the two newest.
public struct StoppedSite: Hashable, Sendable {
    public var site: String
    /// The start of the last scheduled run that held it.
    public var lastRun: Date
}

public struct PairingResult: Sendable {
    /// Newest restore point first.
    public var pairs: [Pair]
    /// Every run, scheduled and manual, oldest first.
    public var runs: [PortalRun]
    /// Scheduled runs that are not complete, oldest first.
    public var incompleteRuns: [PortalRun]
    /// Manual runs, oldest first.
    public var manualRuns: [PortalRun]
    /// Restorable management backups no run chose, farther than tolerance from every complete run.
    public var unpairedManagement: [ManagementBackup]
    /// Complete runs with no restore point within tolerance.
    public var unpairedRuns: [PortalRun]
    /// Recovery windows (merged), oldest first.
    public var recoveryWindows: [RecoveryWindow]
    public var stoppedSites: [StoppedSite]
}

public enum Pairing {
    /// Groups portal files into runs and judges each run's completeness.
    public static func runs(_ files: [PortalBackupFile], policy: PairingPolicy = PairingPolicy()) -> [PortalRun] {
        runs(PortalInventory(files), policy: policy).runs
    }

    /// Groups an inventory's files into runs (a gap of more than `runGap` starts a new one), tells scheduled runs
    /// from manual ones, and judges each run against the sites it is expected to hold.
    public static func runs(_ inventory: PortalInventory, policy: PairingPolicy) -> (
        runs: [PortalRun], stopped: [StoppedSite]
    ) {
        let inventory = inventory.sorted()  // no copy when it already is (the index hands it out sorted)
        let entries = inventory.entries
        let gapSeconds = Int64(policy.runGap.rounded(.down))
        var bounds: [Range<Int>] = []
        var first = 0
        for i in entries.indices.dropFirst() where entries[i].time - entries[i - 1].time > gapSeconds {
            bounds.append(first..<i)
            first = i
        }
        if !entries.isEmpty { bounds.append(first..<entries.count) }

        var systemIndex = Array(repeating: Int?.none, count: bounds.count)
        var emptyCount = Array(repeating: 0, count: bounds.count)
        for (r, range) in bounds.enumerated() {
            for i in range {
                if entries[i].size == 0 { emptyCount[r] += 1 }
                if entries[i].isSystem { systemIndex[r] = i }
            }
        }
        let scheduled = bounds.indices.map { r in
            guard let schedule = policy.portalSchedule else { return systemIndex[r] != nil }
            return schedule.firedWithin(policy.tolerance, before: inventory.date(entries[bounds[r].lowerBound]))
        }
        // Positions among the scheduled runs; manual runs never count toward what a scheduled run expects.
        let scheduledRuns = bounds.indices.filter { scheduled[$0] }
        var position = Array(repeating: -1, count: bounds.count)
        for (p, r) in scheduledRuns.enumerated() { position[r] = p }

        // The scheduled runs holding each site, in order.
        var held = Array(repeating: [Int](), count: inventory.sites.count)
        for r in scheduledRuns {
            for i in bounds[r] where !entries[i].isSystem && held[Int(entries[i].site)].last != position[r] {
                held[Int(entries[i].site)].append(position[r])
            }
        }
        // A scheduled run expects a site it holds, one of the scheduled run before it, and one seen both before
        // and after it: so a site is missing from every run between two that hold it, and from the run after its
        // last one.
        var missing = Array(repeating: [String](), count: scheduledRuns.count)
        var stopped: [StoppedSite] = []
        for (site, positions) in held.enumerated() where !positions.isEmpty {
            let name = inventory.sites[site]
            guard !policy.retiredSites.contains(name) else { continue }
            for (a, b) in zip(positions, positions.dropFirst()) where b > a + 1 {
                for p in (a + 1)..<b { missing[p].append(name) }
            }
            let last = positions[positions.count - 1]
            if last + 1 < scheduledRuns.count { missing[last + 1].append(name) }
            if last < scheduledRuns.count - 2 {
                let run = bounds[scheduledRuns[last]]
                stopped.append(StoppedSite(site: name, lastRun: inventory.date(entries[run.lowerBound])))
            }
        }

        func sitesHeld(_ r: Int) -> Set<String> {
            Set(bounds[r].lazy.filter { !entries[$0].isSystem }.map { inventory.sites[Int(entries[$0].site)] })
        }
        var runs: [PortalRun] = []
        runs.reserveCapacity(bounds.count)
        for r in bounds.indices {
            var runMissing: [String]
            if scheduled[r] {
                runMissing = missing[position[r]]
            } else {
                // A manual run is complete when it holds what the nearest scheduled run expects.
                let before = scheduledRuns.last { $0 < r }
                let after = scheduledRuns.first { $0 > r }
                runMissing = []
                if let nearest = before ?? after {
                    let expected = sitesHeld(nearest).union(missing[position[nearest]])
                    runMissing = Array(expected.subtracting(sitesHeld(r)).subtracting(policy.retiredSites))
                }
            }
            runs.append(
                PortalRun(
                    start: inventory.date(entries[bounds[r].lowerBound]),
                    end: inventory.date(entries[bounds[r].upperBound - 1]),
                    range: bounds[r], isScheduled: scheduled[r], missingSites: runMissing.sorted(),
                    inventory: inventory, systemIndex: systemIndex[r], emptyCount: emptyCount[r]))
        }
        return (runs, stopped.sorted { ($0.lastRun, $0.site) < ($1.lastRun, $1.site) })
    }

    /// The skew of a restore point for a run: its distance to the run's farthest file.
    public static func skew(_ time: Date, _ run: PortalRun) -> TimeInterval {
        max(abs(time.timeIntervalSince(run.start)), abs(time.timeIntervalSince(run.end)))
    }

    /// Pairs portal runs with management restore points without WAL (tests and small inputs).
    public static func pair(
        portalFiles: [PortalBackupFile], restorableManagement: [ManagementBackup], policy: PairingPolicy
    ) -> PairingResult {
        var state = ManagementState()
        state.backups = restorableManagement
        state.restorable = restorableManagement.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        return pair(portal: PortalInventory(portalFiles), management: state, policy: policy)
    }

    /// Gives each complete run its best management restore point (smallest skew, ties to the later point) and keeps
    /// the pairs within tolerance. Points are not used up.
    public static func pair(portal: PortalInventory, management: ManagementState, policy: PairingPolicy)
        -> PairingResult
    {
        let (runs, stopped) = runs(portal, policy: policy)
        let complete = runs.indices.filter { runs[$0].isComplete }
        let points = RestorePoints(management, pitr: policy.pitr)

        var pairs: [Pair] = []
        var unpairedRuns: [PortalRun] = []
        var chosen: Set<String> = []
        for r in complete {
            let run = runs[r]
            guard let best = points.nearest(to: run.middle) else {
                unpairedRuns.append(run)
                continue
            }
            let skew = skew(best.point, run)
            guard skew <= policy.tolerance else {
                unpairedRuns.append(run)
                continue
            }
            chosen.insert(best.backup.id)
            pairs.append(
                Pair(management: best.backup, point: best.point, recovery: best.recovery, run: run, skew: skew))
        }
        pairs.sort { ($0.restorePoint, $0.run.start) > ($1.restorePoint, $1.run.start) }

        // A backup no run chose is unpaired only when no complete run lies within tolerance of it at all.
        let middles = complete.map { runs[$0] }.sorted { $0.middle < $1.middle }
        func nearRun(_ time: Date) -> Bool {
            var low = 0
            var high = middles.count
            while low < high {
                let mid = (low + high) / 2
                if middles[mid].middle < time { low = mid + 1 } else { high = mid }
            }
            return [low - 1, low].contains {
                $0 >= 0 && $0 < middles.count && skew(time, middles[$0]) <= policy.tolerance
            }
        }
        return PairingResult(
            pairs: pairs, runs: runs,
            incompleteRuns: runs.filter { $0.isScheduled && !$0.isComplete },
            manualRuns: runs.filter { !$0.isScheduled },
            unpairedManagement: management.restorable.filter { !chosen.contains($0.id) && !nearRun($0.time) },
            unpairedRuns: unpairedRuns, recoveryWindows: management.recoveryWindows, stoppedSites: stopped)
    }
}

/// The management restore points: restorable backups' stop times, and (where allowed) their recovery windows.
struct RestorePoints {
    struct Choice {
        var backup: ManagementBackup
        var point: Date
        var recovery: Pair.Recovery
    }

    /// Restorable backups by stop time.
    let backups: [ManagementBackup]
    /// Windows that may pair (pgBackRest form), by start.
    let windows: [BackupWindow]
    let byID: [String: ManagementBackup]

    init(_ management: ManagementState, pitr: Bool) {
        backups = management.restorable.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        windows = pitr ? management.windows.filter { $0.format == .pgbackrest } : []
        byID = Dictionary(backups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The point nearest to `time` (ties: the later point). A point that is a backup's stop time is that backup's;
    /// any other is a PITR point of the newest backup at or before it whose window holds it.
    func nearest(to time: Date) -> Choice? {
        var best: (point: Date, distance: TimeInterval)?
        func consider(_ point: Date) {
            let distance = abs(point.timeIntervalSince(time))
            if best == nil || distance < best!.distance || distance == best!.distance && point > best!.point {
                best = (point, distance)
            }
        }
        // Backup points: the two around `time`.
        var low = 0
        var high = backups.count
        while low < high {
            let mid = (low + high) / 2
            if backups[mid].time < time { low = mid + 1 } else { high = mid }
        }
        for i in [low - 1, low] where i >= 0 && i < backups.count { consider(backups[i].time) }
        for window in windows { consider(min(max(time, window.from), window.to)) }
        guard let point = best?.point else { return nil }
        if let own = backups.last(where: { $0.time == point }) {
            return Choice(backup: own, point: point, recovery: .backup)
        }
        guard let base = windows.filter({ $0.from <= point && point <= $0.to }).max(by: { $0.from < $1.from }),
            let backup = byID[base.backup]
        else { return nil }
        return Choice(backup: backup, point: point, recovery: .pitr)
    }
}
