import Foundation

/// Byte order of keys: S3 lists in UTF-8 binary order and SQLite's BINARY collation is the same; Swift's `<` on
/// `String` compares canonical equivalents, which is not it.
public enum KeyOrder {
    public static func less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
    public static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }
}

/// A slice of a bucket's key space: the keys after `after` (exclusive) up to and including `through`. Ranges made
/// from one sorted list of cuts cover every key exactly once, whatever the cuts are: the cuts only decide how
/// evenly the work is shared, never what is seen.
public struct KeyRange: Hashable, Sendable, CustomStringConvertible {
    /// nil: from the first key.
    public var after: String?
    /// nil: to the last key.
    public var through: String?

    public init(after: String? = nil, through: String? = nil) {
        self.after = after
        self.through = through
    }

    public func contains(_ key: String) -> Bool {
        (after.map { KeyOrder.less($0, key) } ?? true) && !isPast(key)
    }

    /// Whether `key` lies beyond the range's end (listing in key order can stop there).
    public func isPast(_ key: String) -> Bool { through.map { KeyOrder.less($0, key) } ?? false }

    public var description: String { "(\(after ?? "start"), \(through ?? "end")]" }
}

public enum KeyRanges {
    /// Ranges that meet at `cuts` (sorted in key order; duplicates dropped): keys up to the first cut, then after
    /// each cut up to the next, then after the last one.
    public static func ranges(cuts: [String]) -> [KeyRange] {
        var sorted: [String] = []
        for cut in cuts.sorted(by: KeyOrder.less) where sorted.last != cut { sorted.append(cut) }
        var out: [KeyRange] = []
        var after: String?
        for cut in sorted {
            out.append(KeyRange(after: after, through: cut))
            after = cut
        }
        out.append(KeyRange(after: after, through: nil))
        return out
    }

    /// Smallest number of keys worth a range of their own: below two pages, the extra request costs more than
    /// listing them in the neighbouring range.
    public static let minimumKeysPerRange = 2000

    /// The 0-based positions, in key order, of the keys to cut at so that `count` keys fall into up to `parts`
    /// ranges of equal counts (each cut is the last key of its range). Fewer parts when there are few keys.
    public static func cutRanks(count: Int, parts: Int, minimumPerRange: Int = minimumKeysPerRange) -> [Int] {
        let n = min(parts, count / max(1, minimumPerRange))
        guard n > 1 else { return [] }
        return (1..<n).map { count * $0 / n - 1 }
    }

    /// Where to cut a range that is still being listed, to hand parts of it to `count` idle workers. `first` and
    /// `last` are the first and last of the `keysInPage` keys of the page just listed; `through` is the range's end.
    /// The keys of the page differ first at some position: the candidate cuts are the starts of the next groups at
    /// that position and at each shallower one (`…-2023` after `…-2022…`, then `…-203`, `…-21`, … then after the
    /// site, the host, the folder), nearest first. A part is only worth a worker if it likely holds
    /// `minimumKeys` keys (each range's last page reads past its end, so small parts cost more than they save):
    /// its size is guessed from the page's density, reading 8 bytes from where a cut leaves the last key as a
    /// fraction. Each part is then listed at once; one that turns out large is cut again the same way when a worker
    /// is free, so a first scan, with no earlier keys to cut at, still spreads out. Every cut is strictly between
    /// `last` and `through`, and printable ASCII past the common part.
    public static func splitCuts(
        first: String, last: String, keysInPage: Int, through: String?, count: Int,
        minimumKeys: Int = minimumKeysPerRange
    ) -> [String] {
        guard count > 0, keysInPage > 1 else { return [] }
        let f = Array(first.utf8)
        let p = Array(last.utf8)
        let t = through.map { Array($0.utf8) }
        var e = 0
        while e < f.count, e < p.count, f[e] == p[e] { e += 1 }
        guard e < p.count else { return [] }
        func fraction(_ bytes: [UInt8], from base: Int) -> Double {
            var v = 0.0
            var scale = 1.0
            for i in base..<(base + 8) {
                v += Double(i < bytes.count ? bytes[i] : 0) * scale
                scale /= 256
            }
            return v
        }
        var cuts: [[UInt8]] = []
        var keysBefore = 0.0  // estimated keys between `last` and the previous cut taken
        var position = e
        while position >= 0, cuts.count < count {
            defer { position -= 1 }
            guard let next = nextInClass(p[position]) else { continue }
            let cut = Array(p[..<position]) + [next]
            guard t.map({ KeyOrder.less(cut, $0) }) ?? true else { continue }
            let span = fraction(p, from: position) - fraction(f, from: position)
            let ahead = fraction(cut, from: position) - fraction(p, from: position)
            let estimate = span > 0 ? Double(keysInPage) * ahead / span : .infinity
            guard estimate - keysBefore >= Double(minimumKeys) else { continue }
            cuts.append(cut)
            keysBefore = estimate
        }
        return cuts.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The next character of the same kind (digit, lower case, upper case, other printable ASCII).
    static func nextInClass(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")..<UInt8(ascii: "9"), UInt8(ascii: "a")..<UInt8(ascii: "z"),
            UInt8(ascii: "A")..<UInt8(ascii: "Z"):
            return c + 1
        case UInt8(ascii: "9"), UInt8(ascii: "z"), UInt8(ascii: "Z"):
            return nil
        case 0x21..<0x7E:
            return c + 1
        default:
            return nil
        }
    }
}

/// The pages of one ListObjectsV2 listing, checked as they come: a server that repeats a continuation token, or
/// sends a page whose keys do not advance past the previous page's last key, would otherwise be listed forever.
public struct S3ListingChain: Sendable {
    public struct Stuck: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    private var tokens: Set<String> = []
    public private(set) var lastKey: String?
    private var emptyPages = 0
    /// Truncated pages in a row without a key: some servers send a few; a stream of them is a loop.
    public static let emptyPageLimit = 100

    public init() {}

    public mutating func accept(keys: [String], isTruncated: Bool, nextToken: String?) throws {
        for key in keys {
            if let previous = lastKey, !KeyOrder.less(previous, key) {
                throw Stuck(
                    description:
                        "the server's listing does not advance (key \(String(key.prefix(200))) after \(String(previous.prefix(200))))"
                )
            }
            lastKey = key
        }
        emptyPages = keys.isEmpty ? emptyPages + 1 : 0
        guard isTruncated, let token = nextToken else { return }
        if emptyPages > Self.emptyPageLimit {
            throw Stuck(description: "the server sent \(emptyPages) truncated pages in a row without a key")
        }
        guard tokens.insert(token).inserted else {
            throw Stuck(description: "the server repeated a continuation token (page \(tokens.count + 1))")
        }
    }
}
