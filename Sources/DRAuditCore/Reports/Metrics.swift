import Foundation

/// Prometheus text exposition (textfile collector) of an audit and the index's scan state.
public enum Metrics {
    public struct SourceMetrics: Sendable {
        public var source: String
        public var lastScanAt: Date?
        public var lastScanOK: Bool
        public var lastScanDuration: TimeInterval?
        public var objects: Int
        public init(source: String, lastScanAt: Date?, lastScanOK: Bool, lastScanDuration: TimeInterval?, objects: Int)
        {
            self.source = source
            self.lastScanAt = lastScanAt
            self.lastScanOK = lastScanOK
            self.lastScanDuration = lastScanDuration
            self.objects = objects
        }
    }

    /// The typical distance between consecutive restore points (median), or nil with fewer than two pairs.
    public static func expectedInterval(_ pairs: [Pair]) -> TimeInterval? {
        let points = pairs.map(\.restorePoint).sorted()
        guard points.count >= 2 else { return nil }
        let gaps = zip(points.dropFirst(), points).map { $0.timeIntervalSince($1) }.sorted()
        return gaps[gaps.count / 2]
    }

    /// What `dr-audit verify` left in the index: the latest result of every present object version, by outcome.
    public struct VerificationMetrics: Sendable {
        public var byOutcome: [String: Int]
        public var lastCheckedAt: Date?
        public init(byOutcome: [String: Int], lastCheckedAt: Date?) {
            self.byOutcome = byOutcome
            self.lastCheckedAt = lastCheckedAt
        }
    }

    public static func render(
        _ assessment: Assessment, sources: [SourceMetrics], now: Date, verification: VerificationMetrics? = nil
    ) -> String {
        var out = ""
        func metric(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
            out += "# HELP dr_audit_\(name) \(help)\n# TYPE dr_audit_\(name) gauge\n"
            for sample in samples {
                let labels =
                    sample.labels.isEmpty
                    ? "" : "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
                out += "dr_audit_\(name)\(labels) \(format(sample.value))\n"
            }
        }
        let pairs = assessment.pairing.pairs
        metric(
            "last_restorable_pair_timestamp_seconds",
            "Restore point of the newest restorable management+portal pair (0: none).",
            [([], pairs.first?.restorePoint.timeIntervalSince1970 ?? 0)])
        metric(
            "last_restorable_pair_age_seconds", "Age of the newest restorable pair when the audit ran (-1: none).",
            [([], pairs.first.map { now.timeIntervalSince($0.restorePoint) } ?? -1)])
        metric(
            "expected_interval_seconds",
            "Median distance between consecutive restore points (0: fewer than two pairs).",
            [([], expectedInterval(pairs) ?? 0)])
        metric("restorable_pairs", "Number of restorable management+portal pairs.", [([], Double(pairs.count))])
        metric(
            "incomplete_portal_runs", "Portal backup runs missing a system or site backup, or holding an empty file.",
            [([], Double(assessment.pairing.incompleteRuns.count))])
        metric(
            "recovery_window_end_timestamp_seconds",
            "End of the newest management recovery window (point-in-time recovery over archived WAL; 0: none).",
            [([], assessment.management.recoveryWindows.map(\.to).max()?.timeIntervalSince1970 ?? 0)])
        metric(
            "wal_newest_segment_age_seconds",
            "Age of the newest archived WAL segment when the audit ran (-1: no WAL archive).",
            [([], assessment.management.newestSegment.map { now.timeIntervalSince($0) } ?? -1)])
        let bySeverity = Dictionary(grouping: assessment.findings, by: \.severity)
        metric(
            "findings", "Audit findings by severity.",
            [Severity.info, .warn, .fail].map { ([("severity", $0.rawValue)], Double(bySeverity[$0]?.count ?? 0)) })
        metric("audit_status", "Audit verdict: 0 ok, 1 warn, 2 fail.", [([], Double(assessment.status.exitCode))])
        metric(
            "kit_age_seconds",
            "Age of the DR kit (its oldest saved CR or Secret file) when the audit ran (-1: no kit).",
            [([], assessment.kitSavedAt.map { now.timeIntervalSince($0) } ?? -1)])
        metric("audit_timestamp_seconds", "When the audit judged (its --now).", [([], now.timeIntervalSince1970)])
        metric(
            "last_scan_success", "1 when the last scan of a source succeeded.",
            sources.map { ([("source", $0.source)], $0.lastScanOK ? 1 : 0) })
        metric(
            "last_scan_timestamp_seconds", "Start of the last scan of a source (0: never scanned).",
            sources.map { ([("source", $0.source)], $0.lastScanAt?.timeIntervalSince1970 ?? 0) })
        metric(
            "last_scan_duration_seconds", "Duration of the last scan of a source.",
            sources.map { ([("source", $0.source)], $0.lastScanDuration ?? 0) })
        metric(
            "objects", "Objects (or cluster records) present in the index per source.",
            sources.map { ([("source", $0.source)], Double($0.objects)) })
        if let verification {
            metric(
                "verified_objects", "Latest verify result of each present backup object or management backup.",
                ["ok", "skipped", "failed"].map { ([("outcome", $0)], Double(verification.byOutcome[$0] ?? 0)) })
            metric(
                "last_verify_timestamp_seconds", "When dr-audit verify last read a backup (0: never).",
                [([], verification.lastCheckedAt?.timeIntervalSince1970 ?? 0)])
            metric(
                "newest_pair_verified", "1 when every object of the newest pair was verified within verify.maxAge.",
                [([], !pairs.isEmpty && !assessment.findings.contains { $0.code == "VERIFY_STALE" } ? 1 : 0)])
        }
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
