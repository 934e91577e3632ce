import Foundation

/// The compliance report: verdict, pairs, findings, per-site coverage and a timeline picture.
public struct Report: Sendable {
    public var assessment: Assessment
    public var now: Date
    public var policy: PairingPolicy
    public var title: String
    /// Every management backup on the storage, restorable or not, for the timeline.
    public var managementBackups: [ManagementBackup]
    /// The latest `verify` results the audit used.
    public var verification: VerificationEvidence

    public init(
        assessment: Assessment, now: Date, policy: PairingPolicy, managementBackups: [ManagementBackup] = [],
        title: String = "API Connect DR readiness", verification: VerificationEvidence = VerificationEvidence()
    ) {
        self.assessment = assessment
        self.now = now
        self.policy = policy
        self.managementBackups = managementBackups
        self.title = title
        self.verification = verification
    }

    /// The verification section: counts of the latest results, and every failed or skipped one.
    public struct VerificationSection: Sendable {
        public var ok: Int
        public var skipped: Int
        public var failed: Int
        public var lastVerifiedAt: Date?
        public var newestPairVerified: Bool
        /// Failed and skipped results, worst first.
        public var attention: [VerificationResult]
    }

    public var verificationSection: VerificationSection {
        let latest = verification.latest
        return VerificationSection(
            ok: latest.filter { $0.outcome == .ok }.count, skipped: latest.filter { $0.outcome == .skipped }.count,
            failed: latest.filter { $0.outcome == .failed }.count, lastVerifiedAt: latest.map(\.checkedAt).max(),
            newestPairVerified: newest != nil && !assessment.findings.contains { $0.code == "VERIFY_STALE" },
            attention: latest.filter { $0.outcome != .ok }.sorted {
                ($0.outcome == .failed ? 0 : 1, $0.subject) < ($1.outcome == .failed ? 0 : 1, $1.subject)
            })
    }

    public struct SiteCoverage: Equatable, Sendable {
        public var site: String
        public var runsWith: Int
        public var runsMissing: Int
        public var lastSeen: Date?
        public init(site: String, runsWith: Int, runsMissing: Int, lastSeen: Date? = nil) {
            self.site = site
            self.runsWith = runsWith
            self.runsMissing = runsMissing
            self.lastSeen = lastSeen
        }
    }

    /// For each site: in how many runs it was backed up, in how many it was expected but missing, and when last.
    public var coverage: [SiteCoverage] {
        var coverage: [String: SiteCoverage] = [:]
        for run in assessment.pairing.runs {
            for (site, index) in run.siteEntries {
                let name = run.inventory.sites[Int(site)]
                coverage[name, default: SiteCoverage(site: name, runsWith: 0, runsMissing: 0)].runsWith += 1
                coverage[name]!.lastSeen = run.inventory.date(run.inventory.entries[index])
            }
            for name in run.missingSites {
                coverage[name, default: SiteCoverage(site: name, runsWith: 0, runsMissing: 0)].runsMissing += 1
            }
        }
        return coverage.keys.sorted().map { coverage[$0]! }
    }

    /// Stretches between consecutive restore points (and from the newest to now) longer than the RPO.
    public var gaps: [(from: Date, to: Date)] {
        let points = assessment.pairing.pairs.map(\.restorePoint).sorted() + [now]
        return zip(points, points.dropFirst()).filter { $1.timeIntervalSince($0) > policy.rpo }.map { ($0, $1) }
    }

    var newest: Pair? { assessment.pairing.pairs.first }

    /// How management gets to the pair's point: its backup, or point-in-time recovery from a base backup.
    func recovery(_ pair: Pair) -> String { pair.recovery == .pitr ? "PITR from" : "backup" }

    /// When the DR kit was saved and how old it is.
    var kitText: String {
        guard let saved = assessment.kitSavedAt else { return "none configured" }
        return "saved \(UTC.rfc3339(saved)) (\(DurationText.format(max(0, now.timeIntervalSince(saved)))) old)"
    }

    // MARK: - Markdown

    public func markdown() -> String {
        var out = "# \(md(title))\n\n"
        out += "- Verdict: **\(assessment.status.rawValue.uppercased())**\n"
        out += "- Generated: \(UTC.rfc3339(now))\n"
        out += "- Newest restore point: \(newest.map { UTC.rfc3339($0.restorePoint) } ?? "none")"
        if let n = newest {
            out +=
                " (\(DurationText.format(now.timeIntervalSince(n.restorePoint))) old, RPO \(DurationText.format(policy.rpo)))"
        }
        out +=
            "\n- Restorable pairs: \(assessment.pairing.pairs.count) (tolerance \(DurationText.format(policy.tolerance))); incomplete portal runs: \(assessment.pairing.incompleteRuns.count)\n"
        out += "- DR kit: \(kitText)\n\n"
        out += "## Restorable pairs\n\n"
        if assessment.pairing.pairs.isEmpty {
            out += "None.\n\n"
        } else {
            out +=
                "| Restore point | Skew | Recovery | Management backup | Type | Portal run | Sites |\n|---|---|---|---|---|---|---|\n"
            for p in assessment.pairing.pairs {
                out +=
                    "| \(UTC.rfc3339(p.restorePoint)) | \(DurationText.format(p.skew)) | \(recovery(p)) | \(md(p.management.id)) | \(p.management.type) | \(UTC.rfc3339(p.run.start)) | \(p.run.siteCount) |\n"
            }
            out += "\n"
        }
        out += "## Findings\n\n"
        if assessment.findings.isEmpty {
            out += "None.\n\n"
        } else {
            out += "| Severity | Code | Subject | Message |\n|---|---|---|---|\n"
            for f in assessment.findings {
                out += "| \(f.severity.rawValue) | \(f.code) | \(md(f.subject)) | \(md(f.message)) |\n"
            }
            out += "\n"
        }
        let v = verificationSection
        out += "## Verification\n\n"
        out +=
            "- Newest pair read end to end within \(DurationText.format(verification.maxAge)): \(v.newestPairVerified ? "yes" : "no")\n"
        out +=
            "- Latest results: \(v.ok) ok (within \(DurationText.format(verification.maxAge))), \(v.skipped) skipped, \(v.failed) failed; last verified \(v.lastVerifiedAt.map(UTC.rfc3339) ?? "never")\n\n"
        if !v.attention.isEmpty {
            out += "| Result | Object | Checked | Detail |\n|---|---|---|---|\n"
            for r in v.attention {
                out +=
                    "| \(r.outcome == .failed ? "FAILED \(r.code ?? "")" : "skipped") | \(md(r.role == .management ? "management \(r.subject)" : r.subject)) | \(UTC.rfc3339(r.checkedAt)) | \(md(r.outcome == .failed ? r.detail ?? "" : r.skipped ?? "")) |\n"
            }
            out += "\n"
        }
        out += "## Site coverage\n\n| Site | Runs with a backup | Runs missing it | Last backup |\n|---|---|---|---|\n"
        for c in coverage {
            out += "| \(md(c.site)) | \(c.runsWith) | \(c.runsMissing) | \(c.lastSeen.map(UTC.rfc3339) ?? "-") |\n"
        }
        out += "\n## Gaps longer than the RPO\n\n"
        let gaps = gaps
        out +=
            gaps.isEmpty
            ? "None.\n"
            : gaps.map {
                "- \(UTC.rfc3339($0.from)) to \(UTC.rfc3339($0.to)) (\(DurationText.format($0.to.timeIntervalSince($0.from))))\n"
            }.joined()
        return out
    }

    /// Markdown table cells: pipes and line breaks would break the table, brackets would make a link; HTML is
    /// neutralised and control characters escaped (`html`).
    func md(_ text: String) -> String {
        html(text).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "[", with: "\\[")
            .replacingOccurrences(of: "]", with: "\\]")
    }

    // MARK: - HTML

    /// A self-contained page: inline CSS and SVG, no script, every name escaped.
    public func html() -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(html(title))</title>
            <style>
            body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
            td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;font-size:.9em}
            .ok{color:#1a7f37}.warn{color:#9a6700}.fail{color:#cf222e}
            .timeline{overflow-x:auto}.timeline svg{display:block;width:100%;min-width:900px;height:auto}
            </style></head><body>
            <h1>\(html(title))</h1>

            """
        let status = assessment.status.rawValue
        out +=
            "<p>Verdict: <strong class=\"\(status)\">\(status.uppercased())</strong> · generated \(UTC.rfc3339(now)) · "
        out += "newest restore point \(newest.map { UTC.rfc3339($0.restorePoint) } ?? "none") · "
        out +=
            "\(assessment.pairing.pairs.count) restorable pairs (tolerance \(DurationText.format(policy.tolerance)), RPO \(DurationText.format(policy.rpo))) · DR kit \(html(kitText))</p>\n"
        out += "<h2>Timeline</h2>\n<div class=\"timeline\">" + timelineSVG() + "</div>\n"
        out +=
            "<h2>Restorable pairs</h2>\n<table><tr><th>Restore point</th><th>Skew</th><th>Recovery</th><th>Management backup</th><th>Type</th><th>Portal run</th><th>Sites</th></tr>\n"
        for p in assessment.pairing.pairs {
            out +=
                "<tr><td>\(UTC.rfc3339(p.restorePoint))</td><td>\(DurationText.format(p.skew))</td><td>\(recovery(p))</td><td>\(html(p.management.id))</td><td>\(html(p.management.type))</td><td>\(UTC.rfc3339(p.run.start))</td><td>\(p.run.siteCount)</td></tr>\n"
        }
        out +=
            "</table>\n<h2>Findings</h2>\n<table><tr><th>Severity</th><th>Code</th><th>Subject</th><th>Message</th></tr>\n"
        for f in assessment.findings {
            out +=
                "<tr><td class=\"\(f.severity.rawValue)\">\(f.severity.rawValue)</td><td>\(f.code)</td><td>\(html(f.subject))</td><td>\(html(f.message))</td></tr>\n"
        }
        let v = verificationSection
        out += "</table>\n<h2>Verification</h2>\n"
        out +=
            "<p>Newest pair read end to end within \(DurationText.format(verification.maxAge)): <strong class=\"\(v.newestPairVerified ? "ok" : "warn")\">\(v.newestPairVerified ? "yes" : "no")</strong> · latest results: \(v.ok) ok, \(v.skipped) skipped, \(v.failed) failed · last verified \(v.lastVerifiedAt.map(UTC.rfc3339) ?? "never")</p>\n"
        if !v.attention.isEmpty {
            out += "<table><tr><th>Result</th><th>Object</th><th>Checked</th><th>Detail</th></tr>\n"
            for r in v.attention {
                out +=
                    "<tr><td class=\"\(r.outcome == .failed ? "fail" : "warn")\">\(r.outcome == .failed ? "FAILED \(html(r.code ?? ""))" : "skipped")</td><td>\(html(r.role == .management ? "management \(r.subject)" : r.subject))</td><td>\(UTC.rfc3339(r.checkedAt))</td><td>\(html(r.outcome == .failed ? r.detail ?? "" : r.skipped ?? ""))</td></tr>\n"
            }
            out += "</table>\n"
        }
        out +=
            "<h2>Site coverage</h2>\n<table><tr><th>Site</th><th>Runs with a backup</th><th>Runs missing it</th><th>Last backup</th></tr>\n"
        for c in coverage {
            out +=
                "<tr><td>\(html(c.site))</td><td>\(c.runsWith)</td><td>\(c.runsMissing)</td><td>\(c.lastSeen.map(UTC.rfc3339) ?? "-")</td></tr>\n"
        }
        out += "</table>\n</body></html>\n"
        return out
    }

    /// Markup escaped, and control and bidi characters shown as escapes (`DisplayText.escape`).
    func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in DisplayText.escape(text) {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    // MARK: - JSON

    struct JSONDocument: Encodable {
        struct Coverage: Encodable {
            var site: String
            var runsWith: Int
            var runsMissing: Int
            var lastSeen: String?
        }
        struct Gap: Encodable {
            var from: String
            var to: String
        }
        var status: String
        var generatedAt: String
        var newestRestorePoint: String?
        var pairs: Int
        var incompleteRuns: Int
        struct Verification: Encodable {
            struct Attention: Encodable {
                var role: String
                var subject: String
                var outcome: String
                var code: String?
                var detail: String?
                var checkedAt: String
            }
            var ok: Int
            var skipped: Int
            var failed: Int
            var lastVerifiedAt: String?
            var newestPairVerified: Bool
            var attention: [Attention]
        }
        var findings: [Finding]
        var coverage: [Coverage]
        var gaps: [Gap]
        var kitSavedAt: String?
        var kitAgeSeconds: Int?
        var verification: Verification
    }

    public func json() -> String {
        let doc = JSONDocument(
            status: assessment.status.rawValue, generatedAt: UTC.rfc3339(now),
            newestRestorePoint: newest.map { UTC.rfc3339($0.restorePoint) }, pairs: assessment.pairing.pairs.count,
            incompleteRuns: assessment.pairing.incompleteRuns.count, findings: assessment.findings,
            coverage: coverage.map {
                .init(
                    site: $0.site, runsWith: $0.runsWith, runsMissing: $0.runsMissing,
                    lastSeen: $0.lastSeen.map(UTC.rfc3339))
            },
            gaps: gaps.map { .init(from: UTC.rfc3339($0.from), to: UTC.rfc3339($0.to)) },
            kitSavedAt: assessment.kitSavedAt.map(UTC.rfc3339),
            kitAgeSeconds: assessment.kitSavedAt.map { Int(now.timeIntervalSince($0).rounded()) },
            verification: {
                let v = verificationSection
                return .init(
                    ok: v.ok, skipped: v.skipped, failed: v.failed, lastVerifiedAt: v.lastVerifiedAt.map(UTC.rfc3339),
                    newestPairVerified: v.newestPairVerified,
                    attention: v.attention.map {
                        .init(
                            role: $0.source, subject: $0.subject, outcome: $0.outcome.rawValue, code: $0.code,
                            detail: $0.outcome == .failed ? $0.detail : $0.skipped, checkedAt: UTC.rfc3339($0.checkedAt)
                        )
                    })
            }())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(doc), as: UTF8.self) + "\n"
    }
}
