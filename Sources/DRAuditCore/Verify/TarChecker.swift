import Foundation

/// Checks a tar stream's structure as it arrives: every header's checksum, size fields that parse, data that
/// fills its blocks, the two zero blocks that end the archive, and nothing but zeros after them. Data is skipped,
/// not kept: memory is one 512-byte block (and a pax header's records, which name sizes over 8 GiB).
public struct TarChecker: Sendable {
    enum State: Sendable {
        /// Collecting a 512-byte header block.
        case header
        /// Skipping an entry's data and padding; `pax` when the data is a pax header to read.
        case data(remaining: Int64, pax: Bool)
        /// GNU sparse extension blocks follow the header.
        case sparseExtension
        /// Two zero blocks seen: only zeros may follow.
        case end
    }

    private var state = State.header
    private var block = [UInt8](repeating: 0, count: 512)
    private var filled = 0
    private var zeroBlocks = 0
    private var paxRecords: [UInt8] = []
    private var paxSize: Int64?
    /// Bytes of tar stream consumed.
    public private(set) var offset: Int64 = 0
    /// Entries (files, folders, links), not counting pax and GNU long-name headers.
    public private(set) var entries = 0
    /// Bytes of entry data (the sizes in the headers).
    public private(set) var contentBytes: Int64 = 0
    private var lastName = ""

    /// pax headers larger than this are not read for a size (they still must fill their blocks).
    static let paxLimit = 1 << 20

    public init() {}

    public var isComplete: Bool {
        if case .end = state { return true }
        return false
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws {
        var i = 0
        let count = bytes.count
        while i < count {
            switch state {
            case .data(let remaining, let pax):
                let n = Int(min(Int64(count - i), remaining))
                if pax, paxRecords.count + n <= Self.paxLimit {
                    paxRecords.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]))
                }
                i += n
                offset += Int64(n)
                state = remaining - Int64(n) == 0 ? .header : .data(remaining: remaining - Int64(n), pax: pax)
                if case .header = state, pax { paxSize = Self.paxSize(paxRecords) }
            case .end:
                // Zeros only: tar writers pad the archive to a record (10240 bytes) with them.
                var j = i
                while j < count && bytes[j] == 0 { j += 1 }
                if j < count {
                    throw StreamProblem(
                        .tar, at: offset + Int64(j - i),
                        "data after the end-of-archive blocks at tar byte \(offset + Int64(j - i))")
                }
                offset += Int64(count - i)
                i = count
            case .header, .sparseExtension:
                let n = min(512 - filled, count - i)
                block.withUnsafeMutableBytes { b in
                    b.baseAddress!.advanced(by: filled).copyMemory(
                        from: bytes.baseAddress!.advanced(by: i), byteCount: n)
                }
                filled += n
                i += n
                offset += Int64(n)
                if filled == 512 {
                    filled = 0
                    try completeBlock()
                }
            }
        }
    }

    private mutating func completeBlock() throws {
        let start = offset - 512
        if case .sparseExtension = state {
            // Each extension block ends with its own "another one follows" flag.
            state = block[504] != 0 ? .sparseExtension : dataState(size: pendingSize, pax: false)
            return
        }
        if block.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks == 2 { state = .end }
            return
        }
        if zeroBlocks == 1 {
            throw StreamProblem(
                .tar, at: start,
                "a lone zero block before the header at tar byte \(start): tar stops there, the entries after it are lost"
            )
        }
        guard let stored = Self.octal(block[148..<156]) else {
            throw StreamProblem(
                .tar, at: start, "tar header at byte \(start) has no readable checksum (after \(described(lastName)))")
        }
        var unsigned = 0
        var signed = 0
        for (k, byte) in block.enumerated() {
            let value = (148..<156).contains(k) ? 0x20 : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        guard stored == Int64(unsigned) || stored == Int64(signed) else {
            throw StreamProblem(
                .tar, at: start,
                "tar header at byte \(start): checksum \(stored) recorded, \(unsigned) computed (after \(described(lastName)))"
            )
        }
        let name = Self.name(block)
        guard let size = Self.size(block[124..<136]) else {
            throw StreamProblem(
                .tar, at: start, "tar header at byte \(start) (\(described(name))): size field is not a number")
        }
        let type = block[156]
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "g"):
            paxRecords.removeAll(keepingCapacity: true)
            state = dataState(size: size, pax: type == UInt8(ascii: "x"))
            return
        case UInt8(ascii: "L"), UInt8(ascii: "K"):
            state = dataState(size: size, pax: false)
            return
        default:
            break
        }
        entries += 1
        lastName = name
        // A pax `size` record overrides the header's size field for the entry that follows it.
        var entrySize = size
        if let override = paxSize {
            entrySize = override
            paxSize = nil
        }
        // Links, devices, folders and FIFOs carry no data, whatever their size field says.
        let carriesData = !"123456".utf8.contains(type)
        let dataSize = carriesData ? entrySize : 0
        contentBytes += dataSize
        if type == UInt8(ascii: "S") && block[482] != 0 {
            pendingSize = dataSize
            state = .sparseExtension
        } else {
            state = dataState(size: dataSize, pax: false)
        }
    }

    private var pendingSize: Int64 = 0

    private func dataState(size: Int64, pax: Bool) -> State {
        let padded = (size + 511) / 512 * 512
        return padded == 0 ? .header : .data(remaining: padded, pax: pax)
    }

    /// The stream has ended: it must end after the end-of-archive blocks, at a block boundary.
    public func finish() throws {
        switch state {
        case .end:
            return
        case .data(let remaining, _):
            throw StreamProblem(
                .truncated, at: offset,
                "the tar stream ends inside the data of \(described(lastName)) at tar byte \(offset) (\(remaining) bytes missing)"
            )
        case .header, .sparseExtension:
            if filled > 0 {
                throw StreamProblem(
                    .truncated, at: offset,
                    "the tar stream ends inside a tar header at tar byte \(offset) (\(filled) of 512 bytes)")
            }
            throw StreamProblem(
                .truncated, at: offset,
                "the tar stream ends at tar byte \(offset) before the end-of-archive blocks (\(zeroBlocks) of 2 zero blocks)"
            )
        }
    }

    private func described(_ name: String) -> String { name.isEmpty ? "the first entry" : "entry '\(name)'" }

    // MARK: - Fields

    /// An octal field: optional leading spaces, digits, then NUL or space.
    static func octal(_ field: ArraySlice<UInt8>) -> Int64? {
        var value: Int64 = 0
        var digits = 0
        var i = field.startIndex
        while i < field.endIndex && field[i] == 0x20 { i += 1 }
        while i < field.endIndex, (0x30...0x37).contains(field[i]) {
            guard value < Int64.max >> 3 else { return nil }
            value = value << 3 | Int64(field[i] - 0x30)
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        while i < field.endIndex {
            guard field[i] == 0 || field[i] == 0x20 else { return nil }
            i += 1
        }
        return value
    }

    /// The size field: octal, or GNU base-256 (high bit of the first byte set) for sizes of 8 GiB and more.
    static func size(_ field: ArraySlice<UInt8>) -> Int64? {
        guard let first = field.first, first & 0x80 != 0 else { return octal(field) }
        guard first & 0x40 == 0 else { return nil }  // negative
        var value = Int64(first & 0x3f)
        for byte in field.dropFirst() {
            guard value < Int64.max >> 8 else { return nil }
            value = value << 8 | Int64(byte)
        }
        return value
    }

    static func name(_ block: [UInt8]) -> String {
        func text(_ range: Range<Int>) -> String {
            let bytes = block[range].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        let name = text(0..<100)
        let isUstar = block[257..<262].elementsEqual("ustar".utf8)
        let prefix = isUstar && block[262] == 0 ? text(345..<500) : ""
        let full = prefix.isEmpty ? name : prefix + "/" + name
        return String(full.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }

    /// The `size` record of a pax extended header ("<length> size=<decimal>\n"), if any.
    static func paxSize(_ records: [UInt8]) -> Int64? {
        var i = 0
        while i < records.count {
            var length = 0
            var j = i
            while j < records.count, (0x30...0x39).contains(records[j]), length < 1 << 30 {
                length = length * 10 + Int(records[j] - 0x30)
                j += 1
            }
            guard length > 0, j < records.count, records[j] == 0x20, i + length <= records.count else { return nil }
            let record = records[(j + 1)..<(i + length)]
            if record.starts(with: "size=".utf8) {
                let digits = record.dropFirst(5).prefix { $0 != 0x0a }
                return Int64(String(decoding: digits, as: UTF8.self))
            }
            i += length
        }
        return nil
    }
}
