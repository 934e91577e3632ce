import Foundation

/// One scheduled portal backup run: the files written close together in time.
public struct PortalRun: Hashable, Sendable {
    public var start: Date
    public var end: Date
    public var files: [PortalBackupFile]
    /// The run's system backup (the latest one, should there be several).
    public var system: PortalBackupFile?
    /// Latest file per site in this run.
    public var sites: [String: PortalBackupFile]
    /// Sites this run should hold but does not.
    public var missingSites: [String]
    /// Files of zero bytes.
    public var emptyFiles: [PortalBackupFile]

    public var isComplete: Bool { system != nil && missingSites.isEmpty && emptyFiles.isEmpty }
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
        let sorted = files.sorted { ($0.time, $0.fileName) < ($1.time, $1.fileName) }
        var groups: [[PortalBackupFile]] = []
        for file in sorted {
            if let last = groups.last?.last, file.time.timeIntervalSince(last.time) <= gap {
                groups[groups.count - 1].append(file)
            } else {
                groups.append([file])
            }
        }
        let seen = groups.map { Set($0.compactMap(\.site)) }
        // Sites seen in any earlier run, and in any later run, by run index.
        var before: [Set<String>] = Array(repeating: [], count: groups.count)
        var after: [Set<String>] = Array(repeating: [], count: groups.count)
        for i in groups.indices.dropFirst() { before[i] = before[i - 1].union(seen[i - 1]) }
        for i in groups.indices.reversed().dropFirst() { after[i] = after[i + 1].union(seen[i + 1]) }

        return groups.indices.map { i in
            let files = groups[i]
            var sites: [String: PortalBackupFile] = [:]
            for file in files where file.kind == .site { sites[file.site!] = file }
            let expected = seen[i].union(before[i].intersection(after[i]))
            return PortalRun(
                start: files.first!.time, end: files.last!.time, files: files,
                system: files.last { $0.kind == .system },
                sites: sites,
                missingSites: expected.subtracting(sites.keys).sorted(),
                emptyFiles: files.filter { $0.size == 0 })
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
    public static func chainProblem(_ backup: ManagementBackup, byID: [String: ManagementBackup],
                                    contradicted: Set<String> = []) -> String? {
        var current = backup
        var visited: Set<String> = []
        while true {
            guard visited.insert(current.id).inserted else { return "prior chain of \(backup.id) loops at \(current.id)" }
            if contradicted.contains(current.id) {
                return current.id == backup.id ? "its cluster record says Failed" : "prior \(current.id) is marked Failed in the cluster"
            }
            if current.status != .complete {
                return current.id == backup.id ? (current.detail ?? current.status.rawValue)
                    : "prior \(current.id) is \(current.status.rawValue)"
            }
            guard let prior = current.prior else { return nil }
            guard let next = byID[prior] else { return "prior \(prior) is missing" }
            current = next
        }
    }

    /// Pairs restorable management backups with complete portal runs: candidates within tolerance,
    /// nearest first (ties: the later run, then the later management backup), each side used once.
    public static func pair(portalFiles: [PortalBackupFile], restorableManagement: [ManagementBackup],
                            policy: PairingPolicy) -> PairingResult {
        let runs = runs(portalFiles, gap: policy.runGap)
        let complete = runs.indices.filter { runs[$0].isComplete }
        struct Candidate { var m: Int; var r: Int; var skew: TimeInterval }
        var candidates: [Candidate] = []
        for (m, backup) in restorableManagement.enumerated() {
            for r in complete {
                let s = skew(backup.time, runs[r])
                if s <= policy.tolerance { candidates.append(Candidate(m: m, r: r, skew: s)) }
            }
        }
        candidates.sort { a, b in
            if a.skew != b.skew { return a.skew < b.skew }
            if a.r != b.r { return a.r > b.r }
            return restorableManagement[a.m].time > restorableManagement[b.m].time
        }
        var usedM: Set<Int> = [], usedR: Set<Int> = []
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
