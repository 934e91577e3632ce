import Foundation
import Testing

@testable import DRAuditCore

/// Names anyone with write access to the storage can choose, each with a character that steers a terminal, a
/// table, a YAML parser or the reading order.
let hostileCharacters: [(name: String, scalar: Unicode.Scalar)] = [
    ("newline", "\n"), ("carriage return", "\r"), ("ESC", "\u{1B}"), ("DEL", "\u{7F}"), ("NEL", "\u{85}"),
    ("CSI", "\u{9B}"), ("line separator", "\u{2028}"), ("paragraph separator", "\u{2029}"),
    ("right-to-left override", "\u{202E}"), ("left-to-right embedding", "\u{202A}"),
    ("first strong isolate", "\u{2068}"), ("pop directional isolate", "\u{2069}"), ("NUL", "\u{0}"),
    ("tab", "\t"), ("right-to-left mark", "\u{200F}"),
]

func hasRawControl(_ text: String) -> Bool {
    text.unicodeScalars.contains { DisplayText.needsEscape($0) && $0 != "\n" }
}

struct DisplayTextTests {
    @Test(arguments: hostileCharacters.map(\.scalar))
    func everyControlAndBidiCharacterIsShownAsAnEscape(_ scalar: Unicode.Scalar) {
        let shown = DisplayText.escape("site\(Character(scalar))name")
        #expect(!shown.unicodeScalars.contains(where: DisplayText.needsEscape))
        #expect(shown.hasPrefix("site\\") && shown.hasSuffix("name"))
    }

    @Test func theEscapesAreTheFamiliarOnes() {
        #expect(DisplayText.escape("a\nb\tc\rd") == "a\\nb\\tc\\rd")
        #expect(DisplayText.escape("\u{1B}[2J") == "\\x1b[2J")
        #expect(DisplayText.escape("\u{7F}\u{0}") == "\\x7f\\x00")
        #expect(DisplayText.escape("\u{9B}31m") == "\\u{009B}31m")
        #expect(DisplayText.escape("x\u{2028}kind: ConfigMap") == "x\\u{2028}kind: ConfigMap")
        #expect(DisplayText.escape("gpj.\u{202E}exe") == "gpj.\\u{202E}exe")
    }

    @Test func ordinaryNamesAreLeftAsTheyAre() {
        for name in [
            "portal-web.think.org@sales-org@main-catalog", "développeurs.example.fr@ventes@catalogue",
            "ポータル@組織@カタログ", "emoji-👩‍👩‍👧@org@cat", "back\\slash", "",
        ] {
            #expect(DisplayText.escape(name) == name)
            #expect(DisplayText.isPlain(name))
        }
    }

    @Test func aCRLFPairIsTwoEscapes() {
        // "\r\n" is one Character in Swift; it is still two line breaks to a terminal.
        #expect(DisplayText.escape("a\r\nb") == "a\\r\\nb")
    }
}

struct HostileReportTests {
    /// Pairs, a missing-site finding and an unrecognized object, whose names carry `name`. A portal site name
    /// cannot hold ASCII controls, spaces or `/` (the file is then unrecognized), but C1, separators and bidi
    /// controls pass.
    func assessment(name: String) -> Assessment {
        let site = "\(name)host@org@cat"
        let siteParses = PortalFileName.parse(site + "-20260101.010000.tar.gz") != nil
        let other = siteParses ? site : siteB
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, other]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-03T01:00:00Z", sites: [siteA, other])
        let f = full("2026-01-01T01:02:00Z")
        let i = incr("2026-01-02T01:03:00Z", on: f, full: f)
        let j = incr("2026-01-03T01:03:00Z", on: i, full: f)
        var input = AuditInput(now: utc("2026-01-03T12:00:00Z"), policy: PairingPolicy())
        input.portal = PortalInventory(files)
        input.managementBackups = [f, i, j]
        input.unrecognized = [UnrecognizedObject(role: .portal, key: "stray-\(name).txt", size: 1)]
        return Audit.assess(input)
    }

    @Test(arguments: hostileCharacters.map(\.scalar))
    func markdownAndHTMLShowNoRawControlCharacter(_ scalar: Unicode.Scalar) throws {
        let name = "evil\(Character(scalar))"
        let a = assessment(name: name)
        #expect(a.findings.contains { $0.code == "UNRECOGNIZED_OBJECT" && $0.subject.contains(name) })
        #expect(a.findings.contains { $0.code == "PORTAL_SITE_MISSING" })
        let report = Report(assessment: a, now: utc("2026-01-03T12:00:00Z"), policy: PairingPolicy())
        for text in [report.markdown(), report.html()] {
            #expect(!hasRawControl(text))
            #expect(text.contains("evil\\"))
        }
        // A table row per finding: a newline in a name adds none.
        let markdown = report.markdown()
        let findingRows = markdown.split(separator: "\n").filter {
            $0.hasPrefix("| warn |") || $0.hasPrefix("| info |")
        }
        #expect(findingRows.count == a.findings.filter { $0.severity != .fail }.count)
        // JSON keeps the names exactly.
        let json = try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as! [String: Any]
        let subjects = (json["findings"] as! [[String: Any]]).map { $0["subject"] as! String }
        #expect(subjects.contains { $0.contains(name) })
    }

    @Test func markdownCellsMakeNoLinks() {
        let report = Report(
            assessment: assessment(name: "[restore-here](https:evil.example)"),
            now: utc("2026-01-03T12:00:00Z"), policy: PairingPolicy())
        #expect(!report.markdown().contains("[restore-here]("))
        #expect(report.markdown().contains("\\[restore-here\\](https:evil.example)"))
    }
}

struct DurationBoundTests {
    @Test func aHugeDurationIsRefusedNotTrappedOn() throws {
        #expect(throws: DurationText.Invalid.tooLong) { try DurationText.read("99999999999999999999d") }
        #expect(throws: DurationText.Invalid.tooLong) {
            try DurationText.read(String(repeating: "9", count: 400) + "s")
        }
        #expect(throws: DurationText.Invalid.tooLong) { try DurationText.read("36501d") }
        #expect(throws: DurationText.Invalid.notADuration) { try DurationText.read("30") }
        #expect(DurationText.parse("99999999999999999999d") == nil)
        #expect(try DurationText.read("36500d") == DurationText.maximum)
        #expect(try DurationText.read("1h30m") == 5400)
    }

    @Test func formattingAnyValueNeverTraps() {
        #expect(DurationText.format(1e300) == "11574074074d1h46m40s")
        #expect(DurationText.format(.infinity) == "inf")
        #expect(DurationText.format(.nan) == "?")
        #expect(DurationText.format(-90) == "-1m30s")
        #expect(DurationText.format(DurationText.maximum) == "36500d")
    }
}
