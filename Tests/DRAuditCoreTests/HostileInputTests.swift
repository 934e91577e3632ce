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

struct DocumentBuilderTests {
    typealias E = DocumentBuilder.Event

    func build(_ events: [E], limits: DocumentLimits = .document, stream: Bool = false) throws -> (
        DocumentNode?, [DocumentNode]
    ) {
        var builder = DocumentBuilder(limits: limits, streamItems: stream)
        var items: [DocumentNode] = []
        for event in events {
            if let (index, item) = try builder.add(event) {
                #expect(index == items.count)
                items.append(item)
            }
        }
        return (builder.root, items)
    }

    @Test func buildsMappingsListsScalarsAndNulls() throws {
        let (root, _) = try build([
            .mappingStart(), .scalar("a"), .scalar("1"), .scalar("b"), .sequenceStart(), .scalar("x"),
            .scalar("~"), .scalar("null", plain: false), .sequenceEnd, .mappingEnd,
        ])
        #expect(root == .map(["a": .scalar("1"), "b": .list([.scalar("x"), .null, .scalar("null")])]))
    }

    /// The billion laughs: ten aliases of ten aliases of … Refused once aliases repeat 10,000 nodes.
    @Test func anAliasBombIsRefused() throws {
        var events: [E] = [.mappingStart(), .scalar("a0"), .sequenceStart(anchor: "a0")]
        events += Array(repeating: .scalar("lol"), count: 10) + [.sequenceEnd]
        for level in 1...9 {
            events += [.scalar("a\(level)"), .sequenceStart(anchor: "a\(level)")]
            events += Array(repeating: .alias("a\(level - 1)"), count: 10) + [.sequenceEnd]
        }
        events.append(.mappingEnd)
        #expect(throws: DocumentError("aliases repeat more than 10000 nodes (an alias bomb?)")) {
            try build(events)
        }
    }

    @Test func aFewAliasesAreFine() throws {
        let (root, _) = try build([
            .mappingStart(), .scalar("t"), .scalar("30s", anchor: "t"), .scalar("u"), .alias("t"),
            .scalar("m"), .mappingStart(anchor: "m"), .scalar("k"), .scalar("v"), .mappingEnd,
            .scalar("n"), .alias("m"), .alias("t"), .scalar("as key"), .mappingEnd,
        ])
        #expect(root?["u"] == .scalar("30s"))
        #expect(root?["n", "k"] == .scalar("v"))
        #expect(root?["30s"] == .scalar("as key"))
        #expect(throws: DocumentError("alias *nope names no anchor")) { try build([.alias("nope")]) }
    }

    @Test func deepNestingIsRefusedBeforeItCostsAnything() throws {
        let deep: [E] = Array(repeating: .sequenceStart(), count: 100_000)
        #expect(throws: DocumentError("nested deeper than 100 levels")) { try build(deep) }
        let fine: [E] = Array(repeating: .sequenceStart(), count: 100) + Array(repeating: .sequenceEnd, count: 100)
        #expect(try build(fine).0 != nil)
        // An alias cannot carry a deep anchor deeper.
        var events: [E] = [.sequenceStart(), .sequenceStart(anchor: "d")]
        events += Array(repeating: .sequenceStart(), count: 60) + Array(repeating: .sequenceEnd, count: 61)
        events += Array(repeating: .sequenceStart(), count: 50) + [.alias("d")]
        #expect(throws: DocumentError("nested deeper than 100 levels")) { try build(events) }
    }

    @Test func nodesAreCounted() throws {
        let limits = DocumentLimits(maxBytes: 1 << 20, maxNodes: 100)
        let many: [E] = [.sequenceStart()] + Array(repeating: .scalar("x"), count: 100) + [.sequenceEnd]
        #expect(throws: DocumentError("more than 100 nodes")) { try build(many, limits: limits) }
        let anchors: [E] =
            [.sequenceStart(), .sequenceStart(anchor: "a")] + Array(repeating: .scalar("x"), count: 20)
            + [.sequenceEnd]
        #expect(
            throws: DocumentError("anchors hold more than 10 nodes"),
            performing: {
                try build(anchors, limits: DocumentLimits(maxBytes: 1 << 20, maxAliasNodes: 10))
            })
    }

    @Test func aKeyMayAppearOnceInAMapping() {
        #expect(throws: DocumentError("the key 'items' appears twice in one mapping")) {
            try build([
                .mappingStart(), .scalar("items"), .sequenceStart(), .sequenceEnd, .scalar("items"), .scalar("x"),
                .mappingEnd,
            ])
        }
    }

    @Test func keysMustBeScalars() {
        #expect(throws: DocumentError("a mapping key is not a scalar")) {
            try build([.mappingStart(), .sequenceStart(), .sequenceEnd, .scalar("v"), .mappingEnd])
        }
    }

    /// An export's items are handed over one at a time and not kept; each is counted on its own.
    @Test func itemsAreStreamedAndCountedEachOnItsOwn() throws {
        let limits = DocumentLimits(maxBytes: 1 << 20, maxNodes: 50)
        var events: [E] = [.mappingStart(), .scalar("kind"), .scalar("List"), .scalar("items"), .sequenceStart()]
        for i in 0..<1000 {
            events += [.mappingStart(), .scalar("metadata"), .mappingStart(), .scalar("name"), .scalar("cr\(i)")]
            events += [.mappingEnd, .mappingEnd]
        }
        events += [.sequenceEnd, .mappingEnd]
        let (root, items) = try build(events, limits: limits, stream: true)
        #expect(items.count == 1000)
        #expect(items[999]["metadata", "name"] == .scalar("cr999"))
        #expect(root == .map(["kind": .scalar("List"), "items": .list([])]))
        // Not streamed, the same document is over the limit.
        #expect(throws: DocumentError("more than 50 nodes")) { try build(events, limits: limits) }
        let big: [E] =
            [.mappingStart(), .scalar("items"), .sequenceStart(), .sequenceStart()]
            + Array(repeating: .scalar("x"), count: 60)
        #expect(throws: DocumentError("item 0 has more than 50 nodes")) { try build(big, limits: limits, stream: true) }
    }
}

struct JSONEventsTests {
    /// Reads `text`, `chunk` bytes at a time, into a document.
    func read(_ text: String, chunk: Int = 7, limits: DocumentLimits = .document) throws -> DocumentNode? {
        var bytes = Array(text.utf8)[...]
        var events = JSONEvents {
            guard !bytes.isEmpty else { return nil }
            defer { bytes = bytes.dropFirst(chunk) }
            return Array(bytes.prefix(chunk))
        }
        var builder = DocumentBuilder(limits: limits)
        while let event = try events.next() { _ = try builder.add(event) }
        return builder.root
    }

    /// Read as YAML 1.1, a raw U+009B in a JSON string was refused and a raw U+0085 folded to a space; Go's
    /// JSON encoder (kubectl) writes both raw.
    @Test func stringsComeBackExactly() throws {
        let name = "evil\u{85}nel\u{9B}2J\u{2028}ls\u{202E}x"
        let root = try read("{\"status\": {\"fullBackupName\": \"\(name)\"}}")
        #expect(root?["status", "fullBackupName"] == .scalar(name))
        let escaped = try read(#"["\u001b[2J\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t", "null", null, true, -0.5e+3, 0]"#)
        #expect(
            escaped
                == .list([
                    .scalar("\u{1B}[2Jé😀\"\\/\u{8}\u{C}\n\r\t"), .scalar("null"), .null, .scalar("true"),
                    .scalar("-0.5e+3"), .scalar("0"),
                ]))
    }

    @Test func anyChunkingReadsTheSame() throws {
        let text = "\u{FEFF}{\"a\": [1, {\"b\": \"ü\u{85}\"}], \"c\": \"\\ud83d\\ude00\"}\n"
        let expected = try read(text, chunk: 1 << 20)
        for chunk in 1...9 { #expect(try read(text, chunk: chunk) == expected) }
        #expect(expected?["a"]?.items?.count == 2)
    }

    @Test(arguments: [
        ("{\"a\": 1} x", "malformed JSON: unexpected data after the document"),
        ("{\"a\": \"x\ny\"}", "malformed JSON: a control character in a string (JSON escapes them)"),
        (#"["\ud800"]"#, "malformed JSON: a lone surrogate in \\u escapes"),
        ("[01]", "malformed JSON: a malformed number"), ("[1,]", "malformed JSON: expected a value"),
        ("{a: 1}", "malformed JSON: expected a key in double quotes"), ("[tru]", "malformed JSON: expected true"),
        ("{\"a\" 1}", "malformed JSON: expected ':' after a key"), ("[1", "malformed JSON: the document ends early"),
        ("[\"\\x\"]", "malformed JSON: an unknown escape in a string"),
    ])
    func malformedJSONIsOneLine(_ text: String, _ message: String) {
        #expect(throws: DocumentError(message)) { try read(text) }
    }

    @Test func nestingIsBoundedByTheBuilder() {
        #expect(throws: DocumentError("nested deeper than 100 levels")) {
            try read(String(repeating: "[", count: 100_000), chunk: 4096)
        }
        #expect(throws: DocumentError("nested deeper than 100 levels")) {
            try read(String(repeating: "{\"a\":", count: 100_000), chunk: 4096)
        }
    }

    @Test func anEmptyInputIsNoDocument() throws {
        #expect(try read("") == nil)
        #expect(try read(" \n\t ") == nil)
    }

    @Test func aStringIsBounded() {
        var bytes: [UInt8]? = Array("[\"\(String(repeating: "x", count: 17))\"]".utf8)
        var events = JSONEvents(maxStringBytes: 16) {
            defer { bytes = nil }
            return bytes
        }
        #expect(throws: DocumentError("a single value is larger than 16 bytes")) {
            while try events.next() != nil {}
        }
    }
}
