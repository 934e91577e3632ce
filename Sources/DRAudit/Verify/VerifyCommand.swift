import DRAuditCore
import Foundation

/// `dr-audit verify`: which pairs, how many of their objects, how deep.
public struct VerifyRequest: Sendable {
    /// nil: the newest pair, or every pair when sampling.
    public var pairs: VerifySelection.Pairs?
    public var sample: VerifySelection.Sample?
    public var deep = false
    public var now: Date
    /// Objects read at once, each worker with its own connection to each target.
    public var jobs = 4

    public init(now: Date) { self.now = now }
}

/// What a verify run read and found.
public struct VerifyReport: Sendable {
    public var pairs: [Pair]
    public var results: [VerificationResult]
    /// Judged from this run's results alone (ARCHIVE_CORRUPT and the others, VERIFY_SKIPPED).
    public var findings: [Finding]
    public var status: AuditStatus { AuditStatus(findings) }
    /// Bytes read from the targets, metadata included.
    public var bytesRead: Int64
    public var seconds: Double
    public var deep: Bool
}

extension Workspace {
    /// Reads the chosen pairs' objects end to end and records the results. Target failures stop the run with a
    /// one-line error (exit 3); the results recorded before stay in the index.
    public func verify(
        _ request: VerifyRequest, progress: (@Sendable (Verifier.Progress) -> Void)? = nil,
        makeTarget: (@Sendable (Role) throws -> StorageTarget)? = nil
    ) throws -> VerifyReport {
        let started = Date()
        let input = try auditInput(now: request.now, withDeployment: false)
        // `latest` is the pair a restore would use now: earlier failures are left out. Every other choice reads the
        // pairs as they would be without earlier verifications, so a backup repaired since reads whole and counts
        // again.
        var unverified = input
        unverified.verification = VerificationEvidence(maxAge: config.verifyMaxAge)  // the readable WAL with it
        let baselinePairs = Audit.assess(unverified).pairing.pairs
        let which = request.pairs ?? (request.sample == nil ? .latest : .all)
        let pairs: [Pair]
        do {
            pairs = try VerifySelection.pairs(
                which == .latest ? Audit.assess(input).pairing.pairs : baselinePairs, which)
        } catch {
            throw DRAuditError("verify: \(error)")
        }
        var subjects = VerifySelection.subjects(of: pairs)
        var replayed = request.deep ? try replayedWAL(pairs) : []
        if let sample = request.sample {
            let last = try index.lastVerified()
            func pick(_ pool: [VerifySelection.Subject]) -> [VerifySelection.Subject] {
                var byPick: [VerifySelection.Subject: Date] = [:]
                for subject in pool {
                    if let date = last[subject.role]?[subject.name] { byPick[subject] = date }
                }
                var generator = SystemRandomNumberGenerator()
                return VerifySelection.sample(pool, sample, lastVerified: byPick, using: &generator)
            }
            // Two pools: hundreds of segments a day must not crowd the backups out of a nightly sample.
            subjects = pick(subjects)
            replayed = pick(replayed)
        }
        subjects += replayed
        var work: [(subject: VerifySelection.Subject, version: Int64)] = []
        for subject in subjects {
            guard let version = try index.presentVersion(role: subject.role, subject: subject.name) else {
                throw DRAuditError("verify: \(subject.name) is no longer in the index; run dr-audit scan")
            }
            work.append((subject, version))
        }

        let factory: @Sendable (Role) throws -> StorageTarget
        if let makeTarget {
            factory = makeTarget
        } else {
            // Artifacts are loaded once; each worker makes its own target (its own connection) from them.
            var loaded: [Role: SubsystemArtifacts] = [:]
            for role in Set(subjects.map(\.role)) {
                guard let artifacts = try artifacts(role) else {
                    throw DRAuditError("verify: \(role.rawValue) is not configured")
                }
                loaded[role] = artifacts
            }
            let artifacts = loaded
            factory = { role in try TargetFactory.make(role: role, artifacts: artifacts[role]!) }
        }
        let verifier = Verifier(
            index: index, deep: request.deep, now: request.now, jobs: request.jobs, progress: progress,
            makeTarget: factory)
        let results = try verifier.run(work).sorted {
            ($0.role == .management ? 0 : 1, $0.subject) < ($1.role == .management ? 0 : 1, $1.subject)
        }

        // This run's verdict: its failures, the worst kind when they hit the pair a restore would have used.
        var findings = Verification.findings(
            VerificationEvidence(maxAge: config.verifyMaxAge, latest: results), now: request.now, newest: nil,
            baselineNewest: baselinePairs.first, managementBackups: input.managementBackups)
        findings.sort { ($1.severity, $0.code, $0.subject) < ($0.severity, $1.code, $1.subject) }
        return VerifyReport(
            pairs: pairs, results: results, findings: findings, bytesRead: verifier.bytesRead,
            seconds: Date().timeIntervalSince(started), deep: request.deep)
    }

    /// The archived WAL segments the point-in-time pairs replay after their base backups, each once.
    private func replayedWAL(_ pairs: [Pair]) throws -> [VerifySelection.Subject] {
        var seen: Set<String> = []
        var subjects: [VerifySelection.Subject] = []
        for pair in pairs {
            guard let start = ReplayWAL.start(of: pair) else { continue }
            var collector = ReplayWAL.Collector(from: start.from, target: start.target)
            try index.presentWALSegments(source: Role.management.rawValue, archive: start.archive, from: start.from) {
                collector.take($0)
            }
            for segment in collector.needed where seen.insert(segment.key).inserted {
                subjects.append(.walSegment(segment))
            }
        }
        return subjects
    }
}
