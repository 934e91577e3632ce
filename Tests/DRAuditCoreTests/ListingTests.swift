import Foundation
import Testing

@testable import DRAuditCore

struct RawNameTests {
    @Test func aUTF8NameIsItsOwnKey() {
        for name in ["_portal_system_backup-20260101.010000.tar.gz", "café/naïve ☃", "a\\b", "back\\slash\\x"] {
            #expect(RawName.key(Array(name.utf8)) == name)
            #expect(RawName.bytes(name) == Array(name.utf8))
            #expect(!RawName.hasInvalidBytes(name))
        }
    }

    @Test func badBytesAreEscapedAndComeBack() {
        let raw = Array("stray".utf8) + [0xFF] + Array(".txt".utf8)
        #expect(RawName.key(raw) == "stray\\xFF.txt")
        #expect(RawName.bytes("stray\\xFF.txt") == raw)
        #expect(RawName.hasInvalidBytes("stray\\xFF.txt"))
        // A truncated sequence, an overlong encoding and a surrogate are each bad byte by byte.
        #expect(RawName.key([0xE2, 0x82]) == "\\xE2\\x82")
        #expect(RawName.key([0xC0, 0xAF]) == "\\xC0\\xAF")
        #expect(RawName.key([0xED, 0xA0, 0x80]) == "\\xED\\xA0\\x80")
    }

    @Test func aLiteralEscapeInAValidNameCannotBeMistakenForABadByte() {
        let literal = Array("stray\\xFF.txt".utf8)  // valid UTF-8 that reads like an escape
        let key = RawName.key(literal)
        #expect(key == "stray\\x5CxFF.txt")
        #expect(key != RawName.key(Array("stray".utf8) + [0xFF] + Array(".txt".utf8)))
        #expect(RawName.bytes(key) == literal)
        #expect(!RawName.hasInvalidBytes(key))
    }

    @Test func everyByteValueRoundTrips() {
        for byte in UInt8(1)...UInt8(255) {
            let name: [UInt8] = [UInt8(ascii: "n"), byte, UInt8(ascii: "\\"), byte, UInt8(ascii: "x"), byte]
            #expect(RawName.bytes(RawName.key(name)) == name)
        }
        var keys = Set<[UInt8]>()
        for a in UInt8(0x5A)...UInt8(0xFF) {
            for b in [UInt8(ascii: "x"), UInt8(ascii: "F"), 0x80, 0xC3, 0xA9] {
                keys.insert(Array(RawName.key([a, b]).utf8))
            }
        }
        #expect(keys.count == (0xFF - 0x5A + 1) * 5)
    }

    /// A readdir name takes the concrete path: the same key as the generic one for every byte value.
    @Test func aNameAsReaddirHoldsItHasTheSameKey() {
        for byte in UInt8(1)...UInt8(255) {
            let name: [UInt8] = [UInt8(ascii: "n"), byte, UInt8(ascii: "\\"), byte, UInt8(ascii: "x"), byte, byte]
            let key = name.withUnsafeBufferPointer { RawName.key($0) }
            #expect(key == RawName.key(name[...]))
        }
        #expect([UInt8]().withUnsafeBufferPointer { RawName.key($0) } == "")
    }

    @Test func namesThatAreNotUTF8AreNeverBackups() {
        #expect(Classifier.classify("stray\\xFF.txt", role: .portal) == .unrecognized)
        #expect(Classifier.classify("backup/apic/backup.info", role: .management) == .pgbackrestInfo)
        #expect(Classifier.classify("backup/apic\\xFF/backup.info", role: .management) == .unrecognized)
        let site = StorageObject(key: "host\\xC3@org@cat-20260101.010000.tar.gz", size: 1, mtime: nil)
        #expect(Classifier.portalFile(site) == nil)
    }

    @Test func linksFIFOsAndSocketsAreNeverBackups() {
        let link = StorageObject(
            key: "_portal_system_backup-20260101.010000.tar.gz", size: 9, mtime: nil, special: .symlink)
        #expect(Classifier.portalFile(link) == nil)
        #expect(Classifier.classify(link, role: .portal) == .unrecognized)
        let fifo = StorageObject(key: "backup/apic/backup.info", size: 0, mtime: nil, special: .fifo)
        #expect(Classifier.classify(fifo, role: .management) == .unrecognized)
        #expect(SpecialFile(mode: 0o120777) == .symlink)
        #expect(SpecialFile(mode: 0o010644) == .fifo)
        #expect(SpecialFile(mode: 0o140755) == .socket)
        #expect(SpecialFile(mode: 0o100644) == nil)
        #expect(SpecialFile(mode: 0o040755) == nil)
    }
}

struct KeyRangeTests {
    @Test func rangesFromCutsCoverEveryKeyExactlyOnce() {
        let cuts = ["d", "m", "m", "b"]
        let ranges = KeyRanges.ranges(cuts: cuts)
        #expect(ranges.count == 4)
        for key in ["", "a", "b", "b0", "c", "d", "d\u{0}", "m", "ma", "z", "\u{10FFFF}"] {
            #expect(ranges.filter { $0.contains(key) }.count == 1, "\(key)")
        }
        // A key exactly on a cut belongs to the range that ends there.
        #expect(ranges[0].contains("b") && !ranges[1].contains("b"))
        #expect(KeyRanges.ranges(cuts: []) == [KeyRange()])
    }

    @Test func keysAreOrderedByTheirBytesAsS3ListsThem() {
        // Canonically equivalent, different bytes: Swift's < would call them equal.
        #expect(KeyOrder.less("e\u{301}", "\u{E9}"))
        #expect(!KeyOrder.less("\u{E9}", "e\u{301}"))
        #expect(KeyOrder.less("Z", "a") && KeyOrder.less("a", "a0"))
    }

    @Test func cutsFromThePreviousKeysGiveEqualCounts() {
        #expect(KeyRanges.cutRanks(count: 100_000, parts: 8) == [12499, 24999, 37499, 49999, 62499, 74999, 87499])
        #expect(KeyRanges.cutRanks(count: 1500, parts: 8) == [])
        #expect(KeyRanges.cutRanks(count: 5000, parts: 8) == [2499])
        #expect(KeyRanges.cutRanks(count: 100_000, parts: 1) == [])
    }

    @Test func aRangeBeingListedIsCutAtTheNextGroupsNearestFirst() {
        // 1000 daily names over 2020-01 to 2022-09: the rest of 2022 and 2023-2029 are less than 2000 names, so the
        // nearest cut worth a worker is the next decade; the wider groups follow.
        let cuts = KeyRanges.splitCuts(
            first: "p/_portal_system_backup-20200101.010005.tar.gz",
            last: "p/_portal_system_backup-20220927.010005.tar.gz", keysInPage: 1000, through: nil, count: 3)
        #expect(cuts == ["p/_portal_system_backup-203", "p/_portal_system_backup-21", "p/_portal_system_backup-3"])
        // With small parts allowed, the nearest group comes first.
        let fine = KeyRanges.splitCuts(
            first: "p/_portal_system_backup-20200101.010005.tar.gz",
            last: "p/_portal_system_backup-20220927.010005.tar.gz", keysInPage: 1000, through: nil, count: 2,
            minimumKeys: 1)
        #expect(fine == ["p/_portal_system_backup-2023", "p/_portal_system_backup-203"])
        // Never at or beyond the range's end, never before the last key listed.
        let bounded = KeyRanges.splitCuts(
            first: "a/10", last: "a/17", keysInPage: 8, through: "a/2", count: 8, minimumKeys: 1)
        #expect(bounded == ["a/18"])  // "a/2" is the end itself, "a0" and "b" lie beyond it
        for cut in bounded { #expect(KeyOrder.less("a/17", cut) && KeyOrder.less(cut, "a/2")) }
        #expect(KeyRanges.splitCuts(first: "a", last: "a", keysInPage: 1, through: nil, count: 3) == [])
        #expect(KeyRanges.splitCuts(first: "a1", last: "a9", keysInPage: 9, through: "b", count: 0) == [])
    }

    @Test func aRepeatedContinuationTokenStopsTheListing() throws {
        var chain = S3ListingChain()
        try chain.accept(keys: ["a", "b"], isTruncated: true, nextToken: "t1")
        try chain.accept(keys: ["c"], isTruncated: true, nextToken: "t2")
        #expect(throws: S3ListingChain.Stuck.self) { try chain.accept(keys: ["d"], isTruncated: true, nextToken: "t1") }
    }

    @Test func aPageWhoseKeysDoNotAdvanceStopsTheListing() throws {
        var chain = S3ListingChain()
        try chain.accept(keys: ["a", "b"], isTruncated: true, nextToken: "t1")
        let error = try #require(throws: S3ListingChain.Stuck.self) {
            try chain.accept(keys: ["a", "b"], isTruncated: true, nextToken: "t2")
        }
        #expect(error.description.contains("does not advance"))
        var endless = S3ListingChain()
        #expect(throws: S3ListingChain.Stuck.self) {
            for i in 0...S3ListingChain.emptyPageLimit + 1 {
                try endless.accept(keys: [], isTruncated: true, nextToken: "t\(i)")
            }
        }
    }

    @Test func progressShowsObjectsListedAndTheRateAtMostOnceASecond() {
        var progress = ListingProgress(source: "portal", started: 100)
        #expect(progress.update(count: 10, now: 100.5) == nil)
        #expect(progress.update(count: 25_000, now: 102) == "portal: 25,000 objects listed (12,500/s)")
        #expect(progress.update(count: 26_000, now: 102.4) == nil)
        #expect(ListingProgress.grouped(1_234_567) == "1,234,567")
        #expect(ListingProgress.grouped(999) == "999")
    }
}
