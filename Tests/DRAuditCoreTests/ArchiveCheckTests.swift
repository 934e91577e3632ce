import Foundation
import Testing

@testable import DRAuditCore

/// A small portal-like archive: a few files of text and of noise, so deflate uses both literals and matches.
func sampleTar(files: Int = 3, size: Int = 3000, record: Int = 10240) -> Data {
    var generator = SystemRandomNumberGenerator()
    var entries: [(name: String, data: Data)] = []
    for i in 0..<files {
        // Exactly `size` bytes: half text (deflate finds matches), half noise (it stores literals).
        var data = Data(String(repeating: "site \(i) node content, ", count: size / 40 + 1).utf8.prefix(size / 2))
        data.append(Data((0..<(size - size / 2)).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        entries.append((name: "portal/site\(i)/dump.sql", data: data))
    }
    return TarWriter.archive(entries, record: record)
}

/// A .tar.gz of `tar` in `members` gzip members (the tar cut at even places), as `cat a.gz b.gz` makes.
func gzipMembers(_ tar: Data, members: Int = 1) -> Data {
    var out = Data()
    let step = (tar.count + members - 1) / members
    var start = 0
    while start < tar.count {
        let end = min(tar.count, start + step)
        out.append(Deflate.compress(tar.subdata(in: start..<end)))
        start = end
    }
    return out
}

/// The offsets of each gzip member's start in a concatenation.
func memberStarts(_ tar: Data, members: Int) -> [Int] {
    var starts: [Int] = []
    var total = 0
    let step = (tar.count + members - 1) / members
    var start = 0
    while start < tar.count {
        starts.append(total)
        let end = min(tar.count, start + step)
        total += Deflate.compress(tar.subdata(in: start..<end)).count
        start = end
    }
    return starts
}

struct ArchiveCheckTests {
    @Test func aWholeArchiveIsReadToTheEndWithItsEntriesAndSize() {
        let tar = sampleTar()
        let summary = ArchiveChecker.check(gzipMembers(tar), chunkSize: 777)
        #expect(summary.problem == nil)
        #expect(summary.entries == 3)
        #expect(summary.members == 1)
        #expect(summary.uncompressedBytes == Int64(tar.count))
        #expect(summary.contentBytes == 3 * 3000)
    }

    @Test func severalGzipMembersAreOneStream() {
        let tar = sampleTar()
        let summary = ArchiveChecker.check(gzipMembers(tar, members: 3))
        #expect(summary.problem == nil)
        #expect(summary.members == 3)
        #expect(summary.entries == 3)
    }

    @Test func aPlainTarIsCheckedWithoutGzip() {
        let summary = ArchiveChecker.check(sampleTar(), format: .tar)
        #expect(summary.problem == nil)
        #expect(summary.entries == 3)
    }

    @Test func everyTruncationFails() {
        // Every prefix: inside a member, between members, inside a tar header, before the end blocks. (Without
        // record padding: a cut that loses only the zeros after the end blocks leaves a whole archive.)
        let archive = gzipMembers(sampleTar(files: 2, size: 1200, record: 512), members: 2)
        for length in 0..<archive.count {
            let summary = ArchiveChecker.check(archive.prefix(length), chunkSize: 311)
            #expect(summary.problem != nil, "a \(length)-byte prefix of \(archive.count) passed")
        }
        #expect(ArchiveChecker.check(archive).problem == nil)
    }

    @Test func truncatedInsideAGzipMemberSaysWhere() {
        let archive = gzipMembers(sampleTar())
        let summary = ArchiveChecker.check(archive.prefix(archive.count / 2))
        #expect(summary.problem?.kind == .truncated)
        #expect(summary.problem?.message.contains("inside gzip member 1") == true)
        #expect(summary.problem?.offset == Int64(archive.count / 2))
    }

    @Test func truncatedBetweenMembersIsATarProblem() {
        let tar = sampleTar()
        let starts = memberStarts(tar, members: 2)
        let archive = gzipMembers(tar, members: 2)
        let summary = ArchiveChecker.check(archive.prefix(starts[1]))
        // The gzip stream is whole; the tar inside it stops in the middle.
        #expect(summary.problem?.kind == .truncated)
        #expect(summary.problem?.message.contains("tar") == true)
    }

    @Test func truncatedInsideATarHeader() {
        let tar = sampleTar()
        // The first entry's header and data (3000 bytes padded to 3072), then 100 bytes of the second header.
        let summary = ArchiveChecker.check(Deflate.compress(Data(tar.prefix(512 + 3072 + 100))))
        #expect(summary.problem?.kind == .truncated)
        #expect(summary.problem?.message.contains("inside a tar header") == true)
        #expect(summary.problem?.offset == Int64(512 + 3072 + 100))
    }

    @Test func truncatedBeforeTheEndBlocks() {
        let tar = sampleTar()
        // Everything up to the last entry's padded data: no zero blocks at all.
        let entriesEnd = 3 * (512 + 3072)
        let summary = ArchiveChecker.check(Deflate.compress(Data(tar.prefix(entriesEnd))))
        #expect(summary.problem?.kind == .truncated)
        #expect(summary.problem?.message.contains("before the end-of-archive blocks") == true)
        let oneZeroBlock = ArchiveChecker.check(Deflate.compress(Data(tar.prefix(entriesEnd + 512))))
        #expect(oneZeroBlock.problem?.message.contains("1 of 2 zero blocks") == true)
    }

    @Test func aFlippedByteInTheDeflateStreamIsFound() {
        var archive = gzipMembers(sampleTar())
        var found = 0
        // Flip each of a spread of bytes in the deflate data (not the 10-byte header, not the 8-byte trailer).
        for position in stride(from: 20, to: archive.count - 8, by: 97) {
            archive[position] ^= 0x10
            if ArchiveChecker.check(archive).problem != nil { found += 1 }
            archive[position] ^= 0x10
        }
        // Every flip breaks the deflate data, the CRC32 or the tar inside; none goes unnoticed.
        #expect(found == (archive.count - 8 - 20 + 96) / 97)
    }

    @Test func aWrongCRCOrLengthIsAGzipProblem() {
        var archive = gzipMembers(sampleTar())
        archive[archive.count - 8] ^= 0xff  // CRC32
        let crc = ArchiveChecker.check(archive)
        #expect(crc.problem?.kind == .gzip)
        #expect(crc.problem?.message.contains("incorrect data check") == true)
        archive[archive.count - 8] ^= 0xff
        archive[archive.count - 1] ^= 0x01  // ISIZE
        let length = ArchiveChecker.check(archive)
        #expect(length.problem?.kind == .gzip)
        #expect(length.problem?.message.contains("incorrect length check") == true)
    }

    @Test func trailingGarbageIsNotIgnored() {
        let archive = gzipMembers(sampleTar())
        for garbage in [Data("garbage".utf8), Data(count: 512), Data([0x1f, 0x8b, 0x08])] {
            let summary = ArchiveChecker.check(archive + garbage)
            #expect(summary.problem != nil)
            if garbage.first != 0x1f {
                #expect(summary.problem?.kind == .trailingGarbage)
                #expect(summary.problem?.offset == Int64(archive.count))
            }
        }
    }

    @Test func aValidGzipHoldingABrokenTarIsCorrupt() {
        var tar = sampleTar()
        tar[512 + 3072 + 20] ^= 0x01  // a byte of the second header's name: its checksum no longer adds up
        let summary = ArchiveChecker.check(Deflate.compress(tar))
        #expect(summary.problem?.kind == .tar)
        #expect(summary.problem?.message.contains("checksum") == true)
        #expect(summary.problem?.offset == Int64(512 + 3072))
    }

    @Test func dataAfterTheEndBlocksIsCorrupt() {
        var tar = sampleTar()
        tar[tar.count - 100] = 0x41
        let summary = ArchiveChecker.check(Deflate.compress(tar))
        #expect(summary.problem?.kind == .tar)
        #expect(summary.problem?.offset == Int64(tar.count - 100))
    }

    @Test func somethingElseThanGzipSaysSoAtOnce() {
        let summary = ArchiveChecker.check(Data("PK\u{3}\u{4} a zip file".utf8))
        #expect(summary.problem?.kind == .notGzip)
        #expect(summary.bytes < 64)
        #expect(ArchiveChecker.check(Data()).problem?.kind == .truncated)
    }

    @Test func paxSizeRecordsAndLinksAreUnderstood() {
        // A pax header giving the next entry's size, then a symbolic link whose size field is ignored.
        let body = Data(repeating: 0x61, count: 700)
        let record = "16 size=\(body.count)\n"
        var tar = Data()
        tar.append(TarWriter.header(name: "PaxHeader", size: Int64(record.utf8.count), type: UInt8(ascii: "x")))
        tar.append(Data(record.utf8) + Data(count: 512 - record.utf8.count))
        tar.append(TarWriter.header(name: "big", size: 0))  // size 0 in the header: the pax record says 700
        tar.append(body + Data(count: 1024 - 700))
        tar.append(TarWriter.header(name: "link", size: 999, type: UInt8(ascii: "2")))
        tar.append(Data(count: 1024))
        let summary = ArchiveChecker.check(Deflate.compress(tar))
        #expect(summary.problem == nil, "\(summary.problem?.message ?? "")")
        #expect(summary.entries == 2)
        #expect(summary.contentBytes == 700)
    }
}

struct ContentCheckTests {
    @Test func gzipRawAndStoredContentHashToTheOriginal() throws {
        let content = Data((0..<50_000).map { UInt8($0 % 251) })
        let expected = SHA1.hex(content)
        #expect(SHA1.hex(Data("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        for (encoding, stored) in [
            (ContentChecker.Encoding.gzip, Deflate.compress(content)),
            (.rawDeflate, Deflate.compress(content, format: .rawDeflate)), (.none, content),
        ] {
            let checker = ContentChecker(encoding)
            try stored.withUnsafeBytes { try checker.feed($0) }
            let result = try checker.finish()
            #expect(result.size == 50_000)
            #expect(result.sha1 == expected)
        }
    }
}
