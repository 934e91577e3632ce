import DRAuditCore
import Foundation

/// The JSON and table forms of `verify`. The JSON shape is a contract; see the README.
extension Render {
    struct VerifyDocument: Encodable {
        struct PairDoc: Encodable {
            var restorePoint: String
            var management: String
            var portalRun: String
        }
        struct ResultDoc: Encodable {
            var role: String
            var subject: String
            var outcome: String
            var code: String?
            var detail: String?
            var skipped: String?
            var bytesRead: Int64
            var entries: Int?
            var contentBytes: Int64?
            var checkedAt: String
        }
        var status: String
        var generatedAt: String
        var deep: Bool
        var bytesRead: Int64
        var seconds: Double
        var pairs: [PairDoc]
        var results: [ResultDoc]
        var findings: [Finding]
    }

    public static func verifyJSON(_ report: VerifyReport, now: Date) -> String {
        json(
            VerifyDocument(
                status: report.status.rawValue, generatedAt: UTC.rfc3339(now), deep: report.deep,
                bytesRead: report.bytesRead, seconds: (report.seconds * 1000).rounded() / 1000,
                pairs: report.pairs.map {
                    .init(
                        restorePoint: UTC.rfc3339($0.restorePoint), management: $0.management.id,
                        portalRun: UTC.rfc3339($0.run.start))
                },
                results: report.results.map {
                    .init(
                        role: $0.source, subject: $0.subject,
                        outcome: $0.outcome.rawValue, code: $0.code,
                        detail: $0.detail, skipped: $0.skipped, bytesRead: $0.bytesRead, entries: $0.entries,
                        contentBytes: $0.contentBytes, checkedAt: UTC.rfc3339($0.checkedAt))
                },
                findings: report.findings))
    }

    public static func verifyTable(_ report: VerifyReport) -> String {
        let points = report.pairs.map { UTC.rfc3339($0.restorePoint) }
        let which =
            report.pairs.count == 1 ? "the pair restoring to \(points[0])" : "\(report.pairs.count) pairs"
        var out =
            "Verify: \(report.status.rawValue.uppercased()) (\(report.results.count) results for \(which); \(bytes(report.bytesRead)) read in \(String(format: "%.1f", report.seconds)) s, \(bytes(Int64(Double(report.bytesRead) / max(report.seconds, 0.001))))/s\(report.deep ? ", deep" : ""))\n"
        if !report.results.isEmpty {
            // Replayed WAL segments come by the hundred: those not failed are one line per unbroken stretch of one
            // archive and outcome; a failed one has its own line.
            var rows: [[String]] = []
            var segments: [(position: WALPosition, r: VerificationResult)] = []
            for r in report.results {
                guard let position = r.walPosition, r.outcome != .failed else {
                    rows.append([
                        r.outcome == .failed ? "FAILED" : r.outcome.rawValue,
                        r.walPosition != nil
                            ? "WAL \(r.subject)" : r.role == .management ? "management \(r.subject)" : r.subject,
                        bytes(r.bytesRead),
                        [r.code, r.detail, r.skipped.map { "skipped: \($0)" }].compactMap { $0 }.joined(
                            separator: ": "),
                    ])
                    continue
                }
                segments.append((position, r))
            }
            segments.sort { ($0.position, $0.r.outcome.rawValue) < ($1.position, $1.r.outcome.rawValue) }
            var merged: [(position: WALPosition, last: WALSegment, r: VerificationResult, count: Int, bytes: Int64)] =
                []
            for (position, r) in segments {
                if var open = merged.last, open.position.archive == position.archive, open.r.outcome == r.outcome,
                    open.r.skipped == r.skipped, open.last.timeline == position.segment.timeline,
                    position.segment.number <= open.last.number + 1
                {
                    open.last = position.segment
                    open.count += 1
                    open.bytes += r.bytesRead
                    merged[merged.count - 1] = open
                } else {
                    merged.append((position, position.segment, r, 1, r.bytesRead))
                }
            }
            for m in merged {
                let count = "\(m.count) replayed \(m.count == 1 ? "segment" : "segments")"
                rows.append([
                    m.r.outcome.rawValue,
                    "WAL \(m.position.archive) \(m.position.segment.name)…\(m.last.name)", bytes(m.bytes),
                    m.r.outcome == .ok ? "\(count), each gzip stream whole" : "\(count): skipped: \(m.r.skipped ?? "")",
                ])
            }
            out += table([["RESULT", "OBJECT", "READ", "DETAIL"]] + rows)
        }
        if !report.findings.isEmpty {
            out += "\n"
            out += table(
                [["SEVERITY", "CODE", "SUBJECT", "MESSAGE"]]
                    + report.findings.map { [$0.severity.rawValue, $0.code, $0.subject, $0.message] })
        }
        return out
    }

    /// 1536 → "1.5 KiB".
    public static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : "\(String(format: "%.1f", value)) \(units[unit])"
    }
}
