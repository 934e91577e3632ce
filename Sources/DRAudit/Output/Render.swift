import DRAuditCore
import Foundation

/// The JSON and table forms of `pairs` and `audit`. The JSON shapes are a contract; see the README.
public enum Render {
    /// The parts of the pairs document, which `pairsJSON` writes piecewise under its top-level keys
    /// `generatedAt`, `incompleteRuns`, `manualRuns`, `pairs`, `recoveryWindows`, `toleranceSeconds` and `unpaired`.
    enum PairsDocument {
        struct Management: Encodable {
            var id: String
            var time: String
            var type: String
            var recovery: String
            var pitrTarget: String?
            enum CodingKeys: String, CodingKey { case id, time, type, recovery, pitrTarget }
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(id, forKey: .id)
                try c.encode(time, forKey: .time)
                try c.encode(type, forKey: .type)
                try c.encode(recovery, forKey: .recovery)
                try c.encode(pitrTarget, forKey: .pitrTarget)  // null, not left out, on a form without targets
            }
        }
        struct Portal: Encodable {
            var start: String
            var end: String
            var system: String
            var sites: [String]
        }
        struct PairDoc: Encodable {
            var restorePoint: String
            var skewSeconds: Int
            var management: Management
            var portal: Portal
        }
        /// An incomplete scheduled run, or (with `end` and `sites`) a manual run. `system` is null without one.
        struct Run: Encodable {
            var start: String
            var system: String?
            var missingSites: [String]
            var end: String?
            var sites: [String]?
            enum CodingKeys: String, CodingKey { case start, system, missingSites, end, sites }
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(start, forKey: .start)
                try c.encode(system, forKey: .system)
                try c.encode(missingSites, forKey: .missingSites)
                try c.encodeIfPresent(end, forKey: .end)
                try c.encodeIfPresent(sites, forKey: .sites)
            }
        }
        struct Window: Encodable {
            var archive: String
            var timeline: Int
            var from: String
            var to: String
            var backups: [String]
        }
        struct Unpaired: Encodable {
            var management: [String]
            var portal: [String]
        }
    }

    public static func pairsJSON(_ result: PairingResult, now: Date, tolerance: TimeInterval) -> String {
        var out = ""
        pairsJSON(result, now: now, tolerance: tolerance) { out += $0 }
        return out
    }

    /// The pairs document (keys sorted), written a pair at a time: every pair lists
    /// each site's file, so at a million files the whole document would be hundreds of MB before the first byte.
    public static func pairsJSON(_ result: PairingResult, now: Date, tolerance: TimeInterval, write: (String) -> Void) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func encode(_ value: some Encodable) -> String { String(decoding: try! encoder.encode(value), as: UTF8.self) }
        func array<T>(_ name: String, _ items: [T], _ doc: (T) -> some Encodable) {
            write("  \(encode(name)) : [")
            for (i, item) in items.enumerated() { write((i == 0 ? "\n    " : ",\n    ") + encode(doc(item))) }
            write(items.isEmpty ? "],\n" : "\n  ],\n")
        }
        write("{\n  \"generatedAt\" : \(encode(UTC.rfc3339(now))),\n")
        array("incompleteRuns", result.incompleteRuns) {
            PairsDocument.Run(start: UTC.rfc3339($0.start), system: $0.system?.fileName, missingSites: $0.missingSites)
        }
        array("manualRuns", result.manualRuns) {
            PairsDocument.Run(
                start: UTC.rfc3339($0.start), system: $0.system?.fileName, missingSites: $0.missingSites,
                end: UTC.rfc3339($0.end), sites: $0.siteFileNames)
        }
        array("pairs", result.pairs) { p in
            PairsDocument.PairDoc(
                restorePoint: UTC.rfc3339(p.restorePoint), skewSeconds: Int(p.skew.rounded()),
                management: .init(
                    id: p.management.id, time: UTC.rfc3339(p.management.time), type: p.management.type,
                    recovery: p.recovery.rawValue, pitrTarget: p.pitrTarget.map(UTC.rfc3339)),
                portal: .init(
                    start: UTC.rfc3339(p.run.start), end: UTC.rfc3339(p.run.end), system: p.run.system?.fileName ?? "",
                    sites: p.run.siteFileNames))
        }
        array("recoveryWindows", result.recoveryWindows) {
            PairsDocument.Window(
                archive: $0.archive, timeline: Int($0.timeline), from: UTC.rfc3339($0.from), to: UTC.rfc3339($0.to),
                backups: $0.backups)
        }
        write("  \"toleranceSeconds\" : \(Int(tolerance)),\n")
        let unpaired = PairsDocument.Unpaired(
            management: result.unpairedManagement.map(\.id),
            portal: result.unpairedRuns.compactMap { $0.system?.fileName })
        write("  \"unpaired\" : \(encode(unpaired))\n}\n")
    }

    public static func pairsTable(_ result: PairingResult, tolerance: TimeInterval) -> String {
        var out = "Restorable pairs (tolerance \(DurationText.format(tolerance))): \(result.pairs.count)\n"
        if !result.pairs.isEmpty {
            out += table(
                [["RESTORE POINT", "SKEW", "RECOVERY", "MANAGEMENT", "TYPE", "PORTAL RUN", "SITES"]]
                    + result.pairs.map { p in
                        [
                            UTC.rfc3339(p.restorePoint), DurationText.format(p.skew),
                            p.recovery == .pitr ? "pitr from" : "backup", p.management.id, p.management.type,
                            "\(UTC.rfc3339(p.run.start)) … \(UTC.rfc3339(p.run.end))\(p.run.isScheduled ? "" : " (manual)")",
                            "\(p.run.siteCount)",
                        ]
                    })
        }
        if !result.recoveryWindows.isEmpty {
            out += "\nRecovery windows (point-in-time recovery over archived WAL): \(result.recoveryWindows.count)\n"
            out += table(
                [["FROM", "TO", "TIMELINE", "BACKUPS", "ARCHIVE"]]
                    + result.recoveryWindows.map { w in
                        [
                            UTC.rfc3339(w.from), UTC.rfc3339(w.to), "\(w.timeline)",
                            "\(w.backups.count) (\(w.backups.first!)\(w.backups.count > 1 ? " … \(w.backups.last!)" : ""))",
                            w.archive,
                        ]
                    })
        }
        if !result.incompleteRuns.isEmpty {
            out += "\nIncomplete portal runs: \(result.incompleteRuns.count)\n"
            out += table(
                [["RUN START", "SYSTEM", "MISSING SITES"]]
                    + result.incompleteRuns.map { r in
                        [
                            UTC.rfc3339(r.start), r.system?.fileName ?? "(none)",
                            r.missingSites.isEmpty
                                ? (r.emptyFiles.isEmpty
                                    ? "-" : "empty: \(r.emptyFiles.map(\.fileName).joined(separator: ", "))")
                                : r.missingSites.joined(separator: ", "),
                        ]
                    })
        }
        if !result.manualRuns.isEmpty {
            out += "\nManual portal runs (not judged for completeness): \(result.manualRuns.count)\n"
            out += table(
                [["RUN START", "SYSTEM", "SITES", "COMPLETE"]]
                    + result.manualRuns.map { r in
                        [
                            UTC.rfc3339(r.start), r.system?.fileName ?? "(none)", "\(r.siteCount)",
                            r.isComplete ? "yes" : "no",
                        ]
                    })
        }
        if !result.unpairedManagement.isEmpty || !result.unpairedRuns.isEmpty {
            out +=
                "\nUnpaired: management \(DisplayText.escape(result.unpairedManagement.map(\.id).joined(separator: ", ").ifEmpty("-")))"
            out +=
                "; portal runs \(result.unpairedRuns.map { UTC.rfc3339($0.start) }.joined(separator: ", ").ifEmpty("-"))\n"
        }
        return out
    }

    struct AuditDocument: Encodable {
        var status: String
        var generatedAt: String
        var findings: [Finding]
    }

    public static func auditJSON(_ assessment: Assessment, now: Date) -> String {
        json(
            AuditDocument(
                status: assessment.status.rawValue, generatedAt: UTC.rfc3339(now), findings: assessment.findings))
    }

    public static func auditTable(_ assessment: Assessment) -> String {
        var out =
            "Audit: \(assessment.status.rawValue.uppercased()) (\(assessment.findings.count) findings, \(assessment.pairing.pairs.count) restorable pairs)\n"
        if !assessment.findings.isEmpty {
            out += table(
                [["SEVERITY", "CODE", "SUBJECT", "MESSAGE"]]
                    + assessment.findings.map {
                        [$0.severity.rawValue, $0.code, $0.subject, $0.message]
                    })
        }
        return out
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Every cell goes through `DisplayText.escape`: names come from storage and the cluster, and a newline or an
    /// escape sequence in one would forge rows or drive the terminal.
    /// A column is padded to at most `widestPadding` characters: a longer cell runs over its column instead of
    /// padding every other row to its width (one 8 KB storage path once made each of 100,000 rows 8 KB long).
    static func table(_ cells: [[String]]) -> String {
        let rows = cells.map { $0.map(DisplayText.escape) }
        let widths = rows[0].indices.map { c in min(widestPadding, rows.map { $0[c].count }.max()!) }
        var out = ""
        for row in rows {
            for (c, cell) in row.enumerated() {
                out += cell
                guard c < row.count - 1 else { break }
                out += String(repeating: " ", count: max(0, widths[c] - cell.count) + 2)
            }
            out += "\n"
        }
        return out
    }

    static let widestPadding = 120
}

extension String {
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
