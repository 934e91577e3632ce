import Foundation

/// What reading an archive end to end found.
public struct ArchiveSummary: Hashable, Codable, Sendable {
    /// Bytes of the object read.
    public var bytes: Int64
    /// gzip members (0 for a plain tar).
    public var members: Int
    /// Bytes of the uncompressed tar stream.
    public var uncompressedBytes: Int64
    /// tar entries (files, folders, links).
    public var entries: Int
    /// Bytes of file data inside the tar.
    public var contentBytes: Int64
    public var problem: StreamProblem?

    public init(
        bytes: Int64, members: Int, uncompressedBytes: Int64, entries: Int, contentBytes: Int64,
        problem: StreamProblem?
    ) {
        self.bytes = bytes
        self.members = members
        self.uncompressedBytes = uncompressedBytes
        self.entries = entries
        self.contentBytes = contentBytes
        self.problem = problem
    }
}

/// Checks an archive as its bytes arrive: a `.tar.gz` (every gzip member's deflate data, CRC32 and ISIZE, no
/// trailing garbage, then the tar structure inside) or a plain `.tar`. Feed chunks, then `finish`. The first
/// problem stops the check: `feed` throws it, and the reader should stop reading.
public final class ArchiveChecker {
    public enum Format: Sendable { case tarGzip, tar }

    public let format: Format
    private let inflater: Inflater?
    private var tar = TarChecker()
    public private(set) var bytes: Int64 = 0
    public private(set) var problem: StreamProblem?

    public init(_ format: Format) {
        self.format = format
        inflater = format == .tarGzip ? Inflater(.gzip) : nil
    }

    public func feed(_ chunk: UnsafeRawBufferPointer) throws {
        if let problem { throw problem }
        bytes += Int64(chunk.count)
        do {
            if let inflater {
                try inflater.feed(chunk) { try tar.feed($0) }
            } else {
                try tar.feed(chunk)
            }
        } catch let found as StreamProblem {
            problem = found
            throw found
        }
    }

    /// The end of the object: the streams must end where their formats say they do.
    @discardableResult
    public func finish() -> ArchiveSummary {
        if problem == nil {
            do {
                try inflater?.finish()
                try tar.finish()
            } catch let found as StreamProblem {
                problem = found
            } catch {
                problem = StreamProblem(.truncated, at: bytes, "\(error)")
            }
        }
        return summary
    }

    public var summary: ArchiveSummary {
        ArchiveSummary(
            bytes: bytes, members: inflater?.members ?? 0, uncompressedBytes: inflater?.uncompressedBytes ?? tar.offset,
            entries: tar.entries, contentBytes: tar.contentBytes, problem: problem)
    }

    /// Checks a whole archive held in memory (tests, small fixtures).
    public static func check(_ data: Data, format: Format = .tarGzip, chunkSize: Int = 64 << 10) -> ArchiveSummary {
        let checker = ArchiveChecker(format)
        data.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                let end = min(raw.count, start + chunkSize)
                do { try checker.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end])) } catch { break }
                start = end
            }
        }
        return checker.finish()
    }
}

/// Writes tar archives, for fixtures, the demo and the tests (ustar headers, data padded, two end blocks, padded
/// to a 10240-byte record like GNU tar and Python's tarfile).
public enum TarWriter {
    public static func archive(_ files: [(name: String, data: Data)], record: Int = 10240) -> Data {
        var out = Data()
        for file in files {
            out.append(header(name: file.name, size: Int64(file.data.count)))
            out.append(file.data)
            let pad = (512 - file.data.count % 512) % 512
            out.append(Data(count: pad))
        }
        out.append(Data(count: 1024))
        let pad = (record - out.count % record) % record
        out.append(Data(count: pad))
        return out
    }

    public static func header(name: String, size: Int64, type: UInt8 = UInt8(ascii: "0"), mtime: Int64 = 1_700_000_000)
        -> Data
    {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (k, byte) in text.utf8.prefix(width).enumerated() { block[offset + k] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            put(String(String(value, radix: 8).suffix(width - 1)).leftPadded(to: width - 1), at: offset, width: width)
        }
        put(name, at: 0, width: 100)
        octal(0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        block[156] = type
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        for k in 148..<156 { block[k] = 0x20 }
        let sum = block.reduce(0) { $0 + Int($1) }
        put(String(String(sum, radix: 8)).leftPadded(to: 6), at: 148, width: 6)
        block[154] = 0
        block[155] = 0x20
        return Data(block)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
