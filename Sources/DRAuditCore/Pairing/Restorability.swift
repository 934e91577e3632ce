import Foundation

/// How far a restorable backup can be recovered: from its stop time to the archive time of the last segment of the
/// unbroken sequence that begins at its WAL start.
public struct BackupWindow: Hashable, Sendable {
    public var backup: String
    public var format: ManagementBackup.Format
    public var archive: String
    public var timeline: UInt32
    public var from: Date
    public var to: Date
}

/// Recovery windows of consecutive backups merged where they overlap, for reporting.
public struct RecoveryWindow: Hashable, Sendable {
    public var format: ManagementBackup.Format
    public var archive: String
    public var timeline: UInt32
    public var from: Date
    public var to: Date
    /// The backups whose windows make it up, oldest first.
    public var backups: [String]
}

/// A hole in a WAL archive that ends the recovery window of at least one restorable backup.
public struct WALGap: Hashable, Sendable {
    public var archive: String
    public var lastBefore: WALSegment
    public var lastBeforeTime: Date
    public var firstAfter: WALSegment
    public var firstAfterTime: Date
    /// The restorable backups whose windows it ends.
    public var backups: [String]
}

/// What the storage, the WAL archive and the cluster say about every management backup.
public struct ManagementState: Sendable {
    /// Every backup, oldest first.
    public var backups: [ManagementBackup] = []
    /// The restorable ones, oldest first.
    public var restorable: [ManagementBackup] = []
    /// Why a backup is not restorable: its own problem, or its prior chain's.
    public var problems: [String: String] = [:]
    /// Backups a Failed cluster record names.
    public var contradicted: Set<String> = []
    /// Backups whose own consistency WAL lacks a segment: the first one missing.
    public var walMissing: [String: WALSegment] = [:]
    /// One per restorable backup whose WAL range is known and whose window reaches past its stop time, by start.
    public var windows: [BackupWindow] = []
    public var recoveryWindows: [RecoveryWindow] = []
    public var gaps: [WALGap] = []
    /// The newest archive time of any WAL segment on the target.
    public var newestSegment: Date?

    public init() {}

    /// Backups judged without their consistency WAL: the metadata names no range, or no archive for it.
    public var walUnchecked: [ManagementBackup] {
        backups.filter { $0.status == .complete && $0.archiveCopy != true && $0.wal?.archive == nil }
    }
}

public enum Restorability {
    /// Judges every backup: complete, not contradicted by a Failed CR, its consistency WAL archived (unless the
    /// backup carries it), and its whole prior chain likewise. Then the recovery windows of the restorable ones.
    /// `wal` holds what can be read: segments whose verification failed (`unreadable`) are left out of it, and are
    /// named as such.
    public static func assess(
        _ backups: [ManagementBackup], wal: WALInventory, contradicted: Set<String> = [],
        unreadable: Set<WALPosition> = []
    ) -> ManagementState {
        var state = ManagementState()
        state.contradicted = contradicted
        state.backups = backups.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        let byID = Dictionary(state.backups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        var own: [String: String] = [:]
        for backup in state.backups {
            if contradicted.contains(backup.id) {
                own[backup.id] = "its cluster record says Failed"
            } else if backup.status != .complete {
                own[backup.id] = backup.detail ?? backup.status.rawValue
            } else if let missing = firstMissingSegment(backup, wal) {
                state.walMissing[backup.id] = missing
                let archive = backup.wal!.archive!
                own[backup.id] =
                    unreadable.contains(WALPosition(archive: archive, segment: missing))
                    ? "WAL segment \(missing.name) of its consistency range in \(archive) failed verification"
                    : "WAL segment \(missing.name) of its consistency range is not in \(archive)"
            }
        }
        for backup in state.backups {
            if let problem = chainProblem(backup, byID: byID, own: own, contradicted: contradicted) {
                state.problems[backup.id] = problem
            } else {
                state.restorable.append(backup)
            }
        }
        (state.windows, state.gaps) = windows(state.restorable, wal)
        state.recoveryWindows = merge(state.windows)
        state.newestSegment = wal.newestTime.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        return state
    }

    /// The first segment of the backup's consistency range that is not archived, or nil (also when it cannot be
    /// checked: no range or archive in the metadata, or the backup carries its own WAL).
    static func firstMissingSegment(_ backup: ManagementBackup, _ wal: WALInventory) -> WALSegment? {
        guard backup.archiveCopy != true, let range = backup.wal, let archive = range.archive else { return nil }
        guard let (_, run) = wal.run(holding: range.start, in: archive) else { return range.start }
        return run.last >= range.stop.number ? nil : WALSegment(timeline: range.timeline, number: run.last + 1)
    }

    /// Why `backup` cannot be restored, or nil: its own problem, or the first one along its prior chain.
    static func chainProblem(
        _ backup: ManagementBackup, byID: [String: ManagementBackup], own: [String: String], contradicted: Set<String>
    ) -> String? {
        if let problem = own[backup.id] { return problem }
        var current = backup
        var visited: Set<String> = [backup.id]
        while let prior = current.prior {
            guard let next = byID[prior] else { return "prior \(prior) is missing" }
            guard visited.insert(next.id).inserted else { return "prior chain of \(backup.id) loops at \(next.id)" }
            if contradicted.contains(next.id) { return "prior \(next.id) is marked Failed in the cluster" }
            if next.status != .complete { return "prior \(next.id) is \(next.status.rawValue)" }
            if let problem = own[next.id] { return "prior \(next.id) cannot be restored: \(problem)" }
            current = next
        }
        return nil
    }

    static func windows(_ restorable: [ManagementBackup], _ wal: WALInventory) -> ([BackupWindow], [WALGap]) {
        var windows: [BackupWindow] = []
        var gaps: [String: WALGap] = [:]
        for backup in restorable {
            guard let range = backup.wal, let archive = range.archive,
                let (index, run) = wal.run(holding: range.start, in: archive), run.last >= range.stop.number
            else { continue }
            let end = Date(timeIntervalSince1970: TimeInterval(run.lastTime))
            if end > backup.time {
                windows.append(
                    BackupWindow(
                        backup: backup.id, format: backup.format, archive: archive, timeline: range.timeline,
                        from: backup.time, to: end))
            }
            if let after = wal.run(after: index, in: archive, timeline: range.timeline) {
                let lastBefore = WALSegment(timeline: range.timeline, number: run.last)
                let key = "\(archive)\u{0}\(lastBefore.name)"
                gaps[
                    key,
                    default: WALGap(
                        archive: archive, lastBefore: lastBefore,
                        lastBeforeTime: end, firstAfter: WALSegment(timeline: range.timeline, number: after.first),
                        firstAfterTime: Date(timeIntervalSince1970: TimeInterval(after.firstTime)), backups: [])
                ].backups.append(backup.id)
            }
        }
        windows.sort { ($0.from, $0.backup) < ($1.from, $1.backup) }
        return (windows, gaps.values.sorted { ($0.lastBeforeTime, $0.archive) < ($1.lastBeforeTime, $1.archive) })
    }

    /// Overlapping windows of one archive and timeline, merged.
    static func merge(_ windows: [BackupWindow]) -> [RecoveryWindow] {
        var merged: [RecoveryWindow] = []
        var open: [String: Int] = [:]  // archive+timeline → index of its last merged window
        for w in windows {
            let key = "\(w.archive)\u{0}\(w.timeline)"
            if let i = open[key], w.from <= merged[i].to {
                merged[i].to = max(merged[i].to, w.to)
                merged[i].backups.append(w.backup)
                continue
            }
            open[key] = merged.count
            merged.append(
                RecoveryWindow(
                    format: w.format, archive: w.archive, timeline: w.timeline, from: w.from, to: w.to,
                    backups: [w.backup]))
        }
        return merged.sorted { ($0.from, $0.archive) < ($1.from, $1.archive) }
    }
}
