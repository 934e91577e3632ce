import Foundation

/// The outcome of reading one backup object (a portal archive) or one management backup end to end: evidence
/// of a new kind, stored in the index, judged by `Verification.findings`.
public struct VerificationResult: Hashable, Codable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        /// Read and whole.
        case ok
        /// Not checkable as a whole (an encrypted repository, portal archives that are not gzip): says why.
        case skipped
        /// Broken: `code` says how (ARCHIVE_CORRUPT, MGMT_FILE_MISSING, MGMT_CHECKSUM_MISMATCH).
        case failed
    }

    public var role: Role
    /// Portal: the object's key. Management: the backup id (pgBackRest label, barman `server/backupId`), or the key
    /// of an archived WAL segment a point-in-time pair replays.
    public var subject: String
    public var outcome: Outcome
    /// The finding code of a failure.
    public var code: String?
    /// For a failure: what broke and where. Otherwise what was read.
    public var detail: String?
    /// What was not checked and why, in a short stable phrase (one VERIFY_SKIPPED finding per phrase).
    public var skipped: String?
    public var checkedAt: Date
    /// Whether `--deep` was asked for.
    public var deep: Bool
    /// Bytes read from the target.
    public var bytesRead: Int64
    /// Portal: tar entries. Management: files (pgBackRest manifest entries, barman tars) checked.
    public var entries: Int?
    /// Portal: bytes of the uncompressed tar stream. Management: bytes of content read and checked.
    public var contentBytes: Int64?

    public init(
        role: Role, subject: String, outcome: Outcome, code: String? = nil, detail: String? = nil,
        skipped: String? = nil, checkedAt: Date, deep: Bool, bytesRead: Int64 = 0, entries: Int? = nil,
        contentBytes: Int64? = nil
    ) {
        self.role = role
        self.subject = subject
        self.outcome = outcome
        self.code = code
        self.detail = detail
        self.skipped = skipped
        self.checkedAt = checkedAt
        self.deep = deep
        self.bytesRead = bytesRead
        self.entries = entries
        self.contentBytes = contentBytes
    }

    /// The archived WAL segment the result is about, for a management result whose subject is a segment's key
    /// (backup ids never have a segment's form).
    public var walPosition: WALPosition? { role == .management ? WALPosition(key: subject) : nil }

    /// What the result is about, as the index's `verifications.source` and the JSON outputs name it: its role, or
    /// `wal` for an archived WAL segment (whose version is an object, not a backup).
    public var source: String { Self.source(role: role, subject: subject) }

    public static func source(role: Role, subject: String) -> String {
        role == .management && WALPosition(key: subject) != nil ? "wal" : role.rawValue
    }
}

/// What the index knows of earlier verifications, for the audit.
public struct VerificationEvidence: Sendable {
    /// `verify.maxAge`: the newest pair should have been verified within this.
    public var maxAge: TimeInterval
    /// The latest result of every verified object version still present (failed and skipped ones whatever their
    /// age; ok ones checked within `maxAge`, the only ones the staleness rule looks at).
    public var latest: [VerificationResult]
    /// The management target's WAL inventory without the segments whose latest read failed (`unreadableWAL`), built
    /// by the index reader in the same pass as the whole inventory; nil when none failed.
    public var readableWAL: WALInventory?

    public init(maxAge: TimeInterval = 7 * 86400, latest: [VerificationResult] = []) {
        self.maxAge = maxAge
        self.latest = latest
    }

    /// Portal file names and management backup ids whose latest verification failed: not restorable.
    public var failedPortalFileNames: Set<String> {
        Set(latest.filter { $0.role == .portal && $0.outcome == .failed }.map { fileName($0.subject) })
    }
    public var failedManagement: Set<String> {
        Set(latest.filter { $0.role == .management && $0.outcome == .failed && $0.walPosition == nil }.map(\.subject))
    }
    /// Archived WAL segments whose latest read failed: a hole in the archive for every judgement.
    public var unreadableWAL: Set<WALPosition> {
        Set(latest.filter { $0.outcome == .failed }.compactMap(\.walPosition))
    }

    func fileName(_ key: String) -> String { String(StorageObject(key: key, size: 0, mtime: nil).fileName) }
}

public enum Verification {
    /// The phrase of portal archives that are not gzip at all.
    public static let notGzipReason =
        "no portal archive starts with the gzip magic (encrypted or packed otherwise): only sizes were checked"

    /// Findings from the latest verification results: each failure (fail when the object belongs to the pair a
    /// restore would have used, `baselineNewest`, else warn), one VERIFY_SKIPPED per reason, and VERIFY_STALE when
    /// the newest restorable pair was not verified within `maxAge`.
    public static func findings(
        _ evidence: VerificationEvidence, now: Date, newest: Pair?, baselineNewest: Pair?,
        managementBackups: [ManagementBackup]
    ) -> [Finding] {
        var findings: [Finding] = []
        let byID = Dictionary(managementBackups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let inBaseline = subjects(of: baselineNewest, byID: byID)
        for result in evidence.latest where result.outcome == .failed {
            if let position = result.walPosition {
                let cutsNewest = baselineNewest.map { replays($0, position) } ?? false
                findings.append(
                    Finding(
                        result.code ?? "ARCHIVE_CORRUPT", cutsNewest ? .fail : .warn, result.subject,
                        "WAL segment \(result.subject) failed verification on \(UTC.rfc3339(result.checkedAt)): "
                            + "\(result.detail ?? "no detail"); point-in-time recovery cannot replay past it"
                            + (cutsNewest ? ", and the newest pair replays it" : "")))
                continue
            }
            let key = SubjectKey(role: result.role, subject: result.subject)
            let severity: Severity = inBaseline.contains(key) ? .fail : .warn
            let what = result.role == .portal ? "portal archive \(result.subject)" : "management \(result.subject)"
            findings.append(
                Finding(
                    result.code ?? "ARCHIVE_CORRUPT", severity, result.role == .portal ? result.subject : what,
                    "\(what) failed verification on \(UTC.rfc3339(result.checkedAt)): \(result.detail ?? "no detail"); "
                        + (severity == .fail
                            ? "it belongs to the newest pair, which is no longer restorable"
                            : "its pairs are no longer restorable")))
        }
        var reasons: [String: (role: Role, count: Int)] = [:]
        for result in evidence.latest where result.outcome != .failed {
            guard let reason = result.skipped else { continue }
            reasons[reason, default: (result.role, 0)].count += 1
        }
        for (reason, entry) in reasons.sorted(by: { $0.key < $1.key }) {
            findings.append(
                Finding(
                    "VERIFY_SKIPPED", .info, entry.role.rawValue,
                    "\(entry.count) verified \(entry.role.rawValue) \(entry.count == 1 ? "object" : "objects"): \(reason)"
                ))
        }
        if let newest, let stale = staleness(evidence, now: now, pair: newest, byID: byID) {
            findings.append(Finding("VERIFY_STALE", .info, UTC.rfc3339(newest.restorePoint), stale))
        }
        return findings
    }

    /// Whether the newest pair's replay reads `position`: its base backup's archive and timeline, after the WAL
    /// stop. Segments are only read for the replay of a pair, and no pair's target is later than the newest's.
    static func replays(_ pair: Pair, _ position: WALPosition) -> Bool {
        guard let start = ReplayWAL.start(of: pair) else { return false }
        return start.archive == position.archive && start.from.timeline == position.segment.timeline
            && position.segment.number >= start.from.number
    }

    struct SubjectKey: Hashable {
        var role: Role
        var subject: String
    }

    /// The objects a pair's restore reads: its portal files, its management backup and that backup's prior chain.
    static func subjects(of pair: Pair?, byID: [String: ManagementBackup]) -> Set<SubjectKey> {
        guard let pair else { return [] }
        var keys: Set<SubjectKey> = []
        for file in [pair.run.system].compactMap({ $0 }) + pair.run.siteFiles {
            keys.insert(SubjectKey(role: .portal, subject: file.key))
        }
        var current: ManagementBackup? = pair.management
        var seen: Set<String> = []
        while let backup = current, seen.insert(backup.id).inserted {
            keys.insert(SubjectKey(role: .management, subject: backup.id))
            current = backup.prior.flatMap { byID[$0] }
        }
        return keys
    }

    /// Why the newest pair counts as not verified, or nil when every object of it was verified within maxAge.
    static func staleness(
        _ evidence: VerificationEvidence, now: Date, pair: Pair, byID: [String: ManagementBackup]
    ) -> String? {
        var checked: [SubjectKey: Date] = [:]
        for result in evidence.latest where result.outcome != .failed {
            checked[SubjectKey(role: result.role, subject: result.subject)] = result.checkedAt
        }
        // The pair's own objects: its portal files and its management backup (whose manifest covers the chain).
        var wanted = [pair.run.system].compactMap { $0 }.map { SubjectKey(role: .portal, subject: $0.key) }
        wanted += pair.run.siteFiles.map { SubjectKey(role: .portal, subject: $0.key) }
        wanted.append(SubjectKey(role: .management, subject: pair.management.id))
        let cutoff = now.addingTimeInterval(-evidence.maxAge)
        let dates = wanted.map { checked[$0] }
        let never = dates.filter { $0 == nil }.count
        let old = dates.compactMap { $0 }.filter { $0 < cutoff }
        let age = DurationText.format(evidence.maxAge)
        let point = UTC.rfc3339(pair.restorePoint)
        if never == wanted.count {
            return "the newest pair (restore point \(point)) was never verified: run dr-audit verify"
        }
        if never > 0 {
            return
                "\(never) of the \(wanted.count) objects of the newest pair (restore point \(point)) were never verified: run dr-audit verify"
        }
        if let oldest = old.min() {
            return
                "the newest pair (restore point \(point)) was last verified in full on \(UTC.rfc3339(oldest)), more than \(age) ago: run dr-audit verify"
        }
        return nil
    }

    /// The phrases of replayed WAL segments that are not gzip streams.
    public static let walNotGzipReason =
        "archived WAL compressed otherwise than with gzip (lz4, zst, bz2): only its presence was checked"
    public static let walUncompressedReason =
        "archived WAL not compressed: its size was checked (16 MiB), not its bytes"

    /// A replayed WAL segment's result: its gzip stream read whole (`outcome`), or nil when it is not gzip (then an
    /// uncompressed segment must have the segment size).
    public static func walResult(
        _ segment: ReplayWAL.Segment, _ outcome: CheckOutcome?, bytesRead: Int64, checkedAt: Date
    ) -> VerificationResult {
        var result = VerificationResult(
            role: .management, subject: segment.key, outcome: .ok, checkedAt: checkedAt, deep: true,
            bytesRead: bytesRead)
        guard let outcome else {
            if segment.isUncompressed && segment.size != ReplayWAL.segmentBytes {
                result.outcome = .failed
                result.code = "ARCHIVE_CORRUPT"
                result.detail =
                    "an uncompressed WAL segment is \(ReplayWAL.segmentBytes) bytes; this one is listed at \(segment.size)"
                return result
            }
            result.outcome = .skipped
            result.skipped = segment.isUncompressed ? walUncompressedReason : walNotGzipReason
            result.detail = "\(segment.size) bytes listed"
            return result
        }
        result.contentBytes = outcome.contentBytes
        if let problem = outcome.problems.first {
            result.outcome = .failed
            result.code = problem.code
            // The result names the segment already.
            let prefix = segment.key + ": "
            result.detail =
                problem.message.hasPrefix(prefix) ? String(problem.message.dropFirst(prefix.count)) : problem.message
        } else {
            result.detail = "gzip stream whole, \(outcome.contentBytes) bytes uncompressed"
        }
        return result
    }

    /// Portal archive summaries made into results. When none of them is gzip at all, the portal packs its backups
    /// otherwise (encrypted): each is `skipped`, sizes only. Otherwise an archive that is not gzip is corrupt.
    public static func portalResults(
        _ read: [(file: PortalBackupFile, summary: ArchiveSummary)], checkedAt: Date, deep: Bool,
        anyGzip: Bool? = nil
    ) -> [VerificationResult] {
        let someGzip = anyGzip ?? read.contains { $0.summary.problem?.kind != .notGzip }
        return read.map { file, summary in
            var result = VerificationResult(
                role: .portal, subject: file.key, outcome: .ok, checkedAt: checkedAt, deep: deep,
                bytesRead: summary.bytes, entries: summary.entries, contentBytes: summary.uncompressedBytes)
            if let problem = summary.problem {
                if problem.kind == .notGzip && !someGzip {
                    result.outcome = .skipped
                    result.skipped = notGzipReason
                    result.detail = "\(file.size) bytes listed; \(problem.message)"
                    result.entries = nil
                    result.contentBytes = nil
                } else {
                    result.outcome = .failed
                    result.code = "ARCHIVE_CORRUPT"
                    result.detail = problem.message
                }
            } else {
                result.detail =
                    "\(summary.members) gzip \(summary.members == 1 ? "member" : "members"), \(summary.entries) tar entries, \(summary.uncompressedBytes) bytes uncompressed"
            }
            return result
        }
    }
}

/// Which pairs and which of their objects a `verify` run reads.
public enum VerifySelection {
    public enum Pairs: Equatable, Sendable {
        case latest
        /// The newest pair restoring to a point not after this time.
        case at(Date)
        case all

        public static func parse(_ text: String) -> Pairs? {
            switch text {
            case "latest": return .latest
            case "all": return .all
            default: return UTC.parseRFC3339(text).map(Pairs.at)
            }
        }
    }

    public enum Sample: Equatable, Sendable {
        case count(Int)
        case percent(Double)

        /// `N` or `P%` (0 < P ≤ 100).
        public static func parse(_ text: String) -> Sample? {
            if text.hasSuffix("%") {
                guard let p = Double(text.dropLast()), p > 0, p <= 100 else { return nil }
                return .percent(p)
            }
            guard let n = Int(text), n > 0 else { return nil }
            return .count(n)
        }

        public func size(of total: Int) -> Int {
            switch self {
            case .count(let n): return min(n, total)
            case .percent(let p):
                return total == 0 ? 0 : min(total, max(1, Int((Double(total) * p / 100).rounded(.up))))
            }
        }
    }

    public enum Subject: Hashable, Sendable {
        case portal(PortalBackupFile)
        case management(ManagementBackup)
        /// An archived WAL segment a point-in-time pair replays (read with `--deep`).
        case walSegment(ReplayWAL.Segment)

        public var role: Role {
            if case .portal = self { return .portal }
            return .management
        }
        /// The result's subject: the portal key, the management backup id, or the segment's key.
        public var name: String {
            switch self {
            case .portal(let file): return file.key
            case .management(let backup): return backup.id
            case .walSegment(let segment): return segment.key
            }
        }
    }

    public enum SelectionError: Error, Equatable, CustomStringConvertible {
        case noPairs
        case noPairAtOrBefore(Date)
        public var description: String {
            switch self {
            case .noPairs: return "there is no restorable pair to verify (run dr-audit scan, then dr-audit pairs)"
            case .noPairAtOrBefore(let d):
                return "no restorable pair restores to a point at or before \(UTC.rfc3339(d))"
            }
        }
    }

    /// Pairs are newest first.
    public static func pairs(_ pairs: [Pair], _ which: Pairs) throws -> [Pair] {
        guard !pairs.isEmpty else { throw SelectionError.noPairs }
        switch which {
        case .all: return pairs
        case .latest: return [pairs.max { $0.restorePoint < $1.restorePoint }!]
        case .at(let at):
            guard let pair = pairs.filter({ $0.restorePoint <= at }).max(by: { $0.restorePoint < $1.restorePoint })
            else { throw SelectionError.noPairAtOrBefore(at) }
            return [pair]
        }
    }

    /// Every object the pairs' restores read, once: each pair's management backup (its manifest lists the files of
    /// its whole prior chain), system backup and site files. Management first: it is the longest read.
    public static func subjects(of pairs: [Pair]) -> [Subject] {
        var seen: Set<String> = []
        var management: [Subject] = []
        var portal: [Subject] = []
        for pair in pairs {
            if seen.insert("m\u{0}" + pair.management.id).inserted { management.append(.management(pair.management)) }
            for file in [pair.run.system].compactMap({ $0 }) + pair.run.siteFiles
            where seen.insert("p\u{0}" + file.key).inserted {
                portal.append(.portal(file))
            }
        }
        return management + portal
    }

    /// `sample` of `subjects`, like restic's `--read-data-subset`, but the least recently verified first (never
    /// verified before anything), at random among equals: nightly samples cover the whole retention in turn.
    public static func sample(
        _ subjects: [Subject], _ sample: Sample, lastVerified: [Subject: Date],
        using generator: inout some RandomNumberGenerator
    ) -> [Subject] {
        let shuffled = subjects.shuffled(using: &generator)
        let ordered = shuffled.enumerated().sorted { a, b in
            let da = lastVerified[a.element] ?? .distantPast
            let db = lastVerified[b.element] ?? .distantPast
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)
        return Array(ordered.prefix(sample.size(of: subjects.count)))
    }
}
