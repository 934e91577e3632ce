import Foundation

/// A WAL segment: timeline and position. PostgreSQL names it `TTTTTTTTLLLLLLLLSSSSSSSS` (timeline, log, segment,
/// 8 hex digits each). With the default 16 MiB segments a log holds segments 00…FF, so after `…000000FF` comes
/// the next log's `…00000000`: the position is `log × 256 + segment`.
public struct WALSegment: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var timeline: UInt32
    /// `log × 256 + segment`.
    public var number: UInt64

    public static let segmentsPerLog: UInt64 = 0x100

    public init(timeline: UInt32, number: UInt64) {
        self.timeline = timeline
        self.number = number
    }

    public init(timeline: UInt32, log: UInt32, segment: UInt32) {
        self.init(timeline: timeline, number: UInt64(log) * Self.segmentsPerLog + UInt64(segment))
    }

    public var log: UInt32 { UInt32(truncatingIfNeeded: number / Self.segmentsPerLog) }
    public var segment: UInt32 { UInt32(truncatingIfNeeded: number % Self.segmentsPerLog) }

    /// The segment after this one on the same timeline.
    public var next: WALSegment { WALSegment(timeline: timeline, number: number + 1) }

    public static func < (a: WALSegment, b: WALSegment) -> Bool {
        (a.timeline, a.number) < (b.timeline, b.number)
    }

    /// The 24-character name PostgreSQL gives it.
    public var name: String { Self.hex8(timeline) + Self.hex8(log) + Self.hex8(segment) }
    public var description: String { name }

    static func hex8(_ value: UInt32) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { out[i] = digits[Int(value >> (28 - 4 * UInt32(i)) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }

    /// Exactly 24 upper-case hex digits (as PostgreSQL writes them) with a segment part within one 16 MiB log.
    public static func parse(_ name: some StringProtocol) -> WALSegment? {
        var bytes = Array(name.utf8)
        guard bytes.count == 24 else { return nil }
        return bytes.withUnsafeMutableBufferPointer { parse(UnsafeBufferPointer($0)) }
    }

    /// The same on bytes (exactly 24 of them).
    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> WALSegment? {
        guard b.count == 24, let timeline = hex(b, 0), let log = hex(b, 8), let segment = hex(b, 16),
            UInt64(segment) < segmentsPerLog
        else { return nil }
        return WALSegment(timeline: timeline, log: log, segment: segment)
    }

    /// Eight upper-case hex digits at `at`.
    static func hex(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
        guard at + 8 <= b.count else { return nil }
        var value: UInt32 = 0
        for i in at..<(at + 8) {
            let c = b[i]
            let digit: UInt8
            if c >= 48 && c <= 57 {
                digit = c - 48
            } else if c >= 65 && c <= 70 {
                digit = c - 55
            } else {
                return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}

extension WALSegment: Codable {
    // Stored and shown by name, as the tools print it.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = WALSegment.parse(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a WAL segment"))
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// The file names a WAL archive holds. pgBackRest adds `-<SHA-1 of the content>` before the compression extension;
/// barman-cloud does not.
///
/// - segment: `<24 hex>[-<sha1>][.ext]`
/// - partial segment (written at a promotion): `<24 hex>.partial[-<sha1>][.ext]`
/// - backup label: `<24 hex>.<8 hex>.backup[-<sha1>][.ext]`
/// - timeline history: `<8 hex>.history[-<sha1>][.ext]`
public struct WALFileName: Hashable, Sendable {
    public enum Kind: String, Sendable { case segment, partial, backupLabel, history }
    public var kind: Kind
    /// The segment (for a history file: its timeline with position 0).
    public var segment: WALSegment

    public static func parse(_ name: some StringProtocol, withChecksum: Bool) -> WALFileName? {
        var bytes = Array(name.utf8)
        return bytes.withUnsafeMutableBufferPointer { parse(UnsafeBufferPointer($0), withChecksum: withChecksum) }
    }

    /// `withChecksum`: pgBackRest's form, whose `-<40 hex>` is required on segments and optional elsewhere.
    static func parse(_ b: UnsafeBufferPointer<UInt8>, withChecksum: Bool) -> WALFileName? {
        // Split off a compression extension: `.` and 1–8 lower-case letters or digits at the end.
        var end = b.count
        var i = b.count - 1
        while i >= 0, i >= b.count - 9, isLowerAlnum(b[i]) { i -= 1 }
        if i >= 0, i < b.count - 1, b[i] == UInt8(ascii: "."), !isKnownSuffix(b, from: i + 1, to: b.count) {
            end = i
        }
        // Then pgBackRest's checksum.
        var hasChecksum = false
        if end >= 41, b[end - 41] == UInt8(ascii: "-"), (end - 40..<end).allSatisfy({ isLowerHex(b[$0]) }) {
            hasChecksum = true
            end -= 41
        }
        let stem = UnsafeBufferPointer(rebasing: b[0..<end])
        if stem.count == 24, let segment = WALSegment.parse(stem) {
            guard hasChecksum || !withChecksum else { return nil }
            return WALFileName(kind: .segment, segment: segment)
        }
        if stem.count == 32, equal(stem, from: 24, ".partial"), let segment = WALSegment.parse(rebase(stem, 0, 24)) {
            return WALFileName(kind: .partial, segment: segment)
        }
        if stem.count == 40, stem[24] == UInt8(ascii: "."), equal(stem, from: 33, ".backup"),
            WALSegment.hex(stem, 25) != nil, let segment = WALSegment.parse(rebase(stem, 0, 24))
        {
            return WALFileName(kind: .backupLabel, segment: segment)
        }
        if stem.count == 16, equal(stem, from: 8, ".history"), let timeline = WALSegment.hex(stem, 0) {
            return WALFileName(kind: .history, segment: WALSegment(timeline: timeline, number: 0))
        }
        return nil
    }

    private static func rebase(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ count: Int) -> UnsafeBufferPointer<UInt8>
    {
        UnsafeBufferPointer(rebasing: b[from..<(from + count)])
    }

    private static func equal(_ b: UnsafeBufferPointer<UInt8>, from: Int, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard from + count == b.count else { return false }
        let t = text.utf8Start
        for k in 0..<count where b[from + k] != t[k] { return false }
        return true
    }

    /// `partial`, `backup` and `history` end the stem; they are not compression extensions.
    private static func isKnownSuffix(_ b: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Bool {
        let word = String(decoding: UnsafeBufferPointer(rebasing: b[from..<to]), as: UTF8.self)
        return word == "partial" || word == "backup" || word == "history"
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
    private static func isLowerHex(_ c: UInt8) -> Bool { (c >= 97 && c <= 102) || (c >= 48 && c <= 57) }
}
