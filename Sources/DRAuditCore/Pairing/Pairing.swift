import Foundation

/// One scheduled portal backup run: the files written close together in time, a stretch of the (sorted)
/// inventory. Files are built out on demand: pairing a million files touches only their compact entries.
public struct PortalRun: Hashable, Sendable {
    public var start: Date
    public var end: Date
    /// Where its files sit in `inventory.entries`.
    public var range: Range<Int>
    /// Sites this run should hold but does not.
    public var missingSites: [String]
    public var inventory: PortalInventory
    /// The run's system backup (the latest one, should there be several), as an entry index.
    var systemIndex: Int?
    var emptyCount: Int

    public var isComplete: Bool { systemIndex != nil && missingSites.isEmpty && emptyCount == 0 }
    public var fileCount: Int { range.count }
    public var files: [PortalBackupFile] { range.map(inventory.file) }
    public var system: PortalBackupFile? { systemIndex.map(inventory.file) }
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
        a.start == b.start && a.end == b.end && a.missingSites == b.missingSites && a.files == b.files
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
    /// Largest allowed distance between a management backup and a portal run.
    public var tolerance: TimeInterval = 30 * 60
    /// Oldest acceptable newest restore point.
    public var rpo: TimeInterval = 26 * 3600
    /// The operator mirrors remote portal files as record CRs every 10 minutes; younger objects may lack one.
    public var recordGrace: TimeInterval = 15 * 60

    public init(tolerance: TimeInterval = 30 * 60, rpo: TimeInterval = 26 * 3600) {
        self.tolerance = tolerance
        self.rpo = rpo
    }
}

public struct Pair: Hashable, Sendable {
    public var management: ManagementBackup
    public var run: PortalRun
    public var skew: TimeInterval
    /// Management is restored first and the portal straight after: the pair recovers to the management point.
    public var restorePoint: Date { management.time }
}

public struct PairingResult: Sendable {
    /// Newest restore point first.
    public var pairs: [Pair]
    public var runs: [PortalRun]
    /// Oldest first.
    public var incompleteRuns: [PortalRun]
    /// Restorable management backups no run paired with.
    public var unpairedManagement: [ManagementBackup]
    /// Complete runs no management backup paired with.
    public var unpairedRuns: [PortalRun]
}

public enum Pairing {
    /// Groups portal files into runs and judges each run's completeness.
    public static func runs(_ files: [PortalBackupFile], gap: TimeInterval = 30 * 60) -> [PortalRun] {
        runs(PortalInventory(files), gap: gap)
    }

    /// Groups an inventory's files into runs (a gap of more than `gap` starts a new one) and judges each run:
    /// a site is expected in a run when it appears in it, or both in an earlier and in a later run.
    public static func runs(_ inventory: PortalInventory, gap: TimeInterval = 30 * 60) -> [PortalRun] {
        let inventory = inventory.sorted()  // no copy when it already is (the index hands it out sorted)
        let entries = inventory.entries
        let gapSeconds = Int64(gap.rounded(.down))
        var bounds: [Range<Int>] = []
        var first = 0
        for i in entries.indices.dropFirst() where entries[i].time - entries[i - 1].time > gapSeconds {
            bounds.append(first..<i)
            first = i
        }
        if !entries.isEmpty { bounds.append(first..<entries.count) }

        // Runs holding each site, in order; a site is missing from every run between two that hold it.
        var runsOfSite = Array(repeating: [Int](), count: inventory.sites.count)
        var systemIndex = Array(repeating: Int?.none, count: bounds.count)
        var emptyCount = Array(repeating: 0, count: bounds.count)
        for (r, range) in bounds.enumerated() {
            for i in range {
                let entry = entries[i]
                if entry.size == 0 { emptyCount[r] += 1 }
                if entry.isSystem {
                    systemIndex[r] = i
                } else if runsOfSite[Int(entry.site)].last != r {
                    runsOfSite[Int(entry.site)].append(r)
                }
            }
        }
        var missing = Array(repeating: [String](), count: bounds.count)
        for (site, held) in runsOfSite.enumerated() {
            for (a, b) in zip(held, held.dropFirst()) where b > a + 1 {
                for r in (a + 1)..<b { missing[r].append(inventory.sites[site]) }
            }
        }
        return bounds.indices.map { r in
            PortalRun(
                start: inventory.date(entries[bounds[r].lowerBound]),
                end: inventory.date(entries[bounds[r].upperBound - 1]),
                range: bounds[r], missingSites: missing[r].sorted(), inventory: inventory,
                systemIndex: systemIndex[r], emptyCount: emptyCount[r])
        }
    }

    /// Distance from `time` to the closed interval [start, end]; 0 inside.
    public static func skew(_ time: Date, _ run: PortalRun) -> TimeInterval {
        if time < run.start { return run.start.timeIntervalSince(time) }
        if time > run.end { return time.timeIntervalSince(run.end) }
        return 0
    }

    /// Restorable management backups: complete, whole prior chain complete, and not in `contradicted`.
    public static func restorable(_ backups: [ManagementBackup], contradicted: Set<String> = []) -> [ManagementBackup] {
        let byID = Dictionary(backups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return backups.filter { chainProblem($0, byID: byID, contradicted: contradicted) == nil }
    }

    /// Why `backup` cannot be restored, or nil. Walks the prior chain (guarding against cycles).
    public static func chainProblem(
        _ backup: ManagementBackup, byID: [String: ManagementBackup],
        contradicted: Set<String> = []
    ) -> String? {
        var current = backup
        var visited: Set<String> = []
        while true {
            guard visited.insert(current.id).inserted else {
                return "prior chain of \(backup.id) loops at \(current.id)"
            }
            if contradicted.contains(current.id) {
                return current.id == backup.id
                    ? "its cluster record says Failed" : "prior \(current.id) is marked Failed in the cluster"
            }
            if current.status != .complete {
                return current.id == backup.id
                    ? (current.detail ?? current.status.rawValue)
                    : "prior \(current.id) is \(current.status.rawValue)"
            }
            guard let prior = current.prior else { return nil }
            guard let next = byID[prior] else { return "prior \(prior) is missing" }
            current = next
        }
    }

    /// Pairs restorable management backups with complete portal runs: candidates within tolerance,
    /// nearest first (ties: the later run, then the later management backup), each side used once.
    public static func pair(
        portalFiles: [PortalBackupFile], restorableManagement: [ManagementBackup],
        policy: PairingPolicy
    ) -> PairingResult {
        pair(portal: PortalInventory(portalFiles), restorableManagement: restorableManagement, policy: policy)
    }

    public static func pair(
        portal: PortalInventory, restorableManagement: [ManagementBackup],
        policy: PairingPolicy
    ) -> PairingResult {
        let runs = runs(portal, gap: policy.runGap)
        let complete = runs.indices.filter { runs[$0].isComplete }
        struct Candidate {
            var m: Int
            var r: Int
            var skew: TimeInterval
        }
        var candidates: [Candidate] = []
        // Runs are in time order and do not overlap: only those from the first ending within tolerance before the
        // backup, up to the last starting within tolerance after it, can be candidates.
        for (m, backup) in restorableManagement.enumerated() {
            let earliest = backup.time.addingTimeInterval(-policy.tolerance)
            var low = 0
            var high = complete.count
            while low < high {
                let mid = (low + high) / 2
                if runs[complete[mid]].end < earliest { low = mid + 1 } else { high = mid }
            }
            for r in complete[low...] {
                let s = skew(backup.time, runs[r])
                if s <= policy.tolerance {
                    candidates.append(Candidate(m: m, r: r, skew: s))
                } else if runs[r].start > backup.time {
                    break
                }
            }
        }
        candidates.sort { a, b in
            if a.skew != b.skew { return a.skew < b.skew }
            if a.r != b.r { return a.r > b.r }
            return restorableManagement[a.m].time > restorableManagement[b.m].time
        }
        var usedM: Set<Int> = []
        var usedR: Set<Int> = []
        var pairs: [Pair] = []
        for c in candidates where !usedM.contains(c.m) && !usedR.contains(c.r) {
            usedM.insert(c.m)
            usedR.insert(c.r)
            pairs.append(Pair(management: restorableManagement[c.m], run: runs[c.r], skew: c.skew))
        }
        pairs.sort { ($0.restorePoint, $0.run.start) > ($1.restorePoint, $1.run.start) }
        return PairingResult(
            pairs: pairs, runs: runs,
            incompleteRuns: runs.filter { !$0.isComplete },
            unpairedManagement: restorableManagement.indices.filter { !usedM.contains($0) }
                .map { restorableManagement[$0] }.sorted { $0.time < $1.time },
            unpairedRuns: complete.filter { !usedR.contains($0) }.map { runs[$0] })
    }
}
