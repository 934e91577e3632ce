import CZlib
import Foundation

/// Where a stream of bytes stopped making sense: the byte offset in the object (or, for what is inside a
/// compressed stream, in its uncompressed content) and what broke, in words.
public struct StreamProblem: Error, Hashable, Codable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// The object does not start with the gzip magic bytes.
        case notGzip
        /// zlib refused the deflate data, a CRC32 or a length (ISIZE).
        case gzip
        /// The stream ends early: inside a gzip member, a tar header, an entry's data, before the end blocks.
        case truncated
        /// Bytes after the last gzip member that are not another member.
        case trailingGarbage
        /// The tar structure inside is broken: a header checksum, a size field, data after the end blocks.
        case tar
    }
    public var kind: Kind
    /// Offset in the object's bytes (for tar problems: in the uncompressed tar stream).
    public var offset: Int64
    public var message: String

    public init(_ kind: Kind, at offset: Int64, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    public var description: String { message }
}

/// A streaming zlib inflater: gzip members one after another (each member's header, CRC32 and ISIZE checked by
/// zlib), or raw deflate (pgBackRest's bundled files with `backup-bundle-raw`). Fed chunks as they arrive, it
/// hands the uncompressed bytes on through a fixed buffer, so memory does not grow with the stream.
public final class Inflater {
    public enum Format: Sendable { case gzip, rawDeflate }

    public let format: Format
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    /// Compressed bytes consumed so far.
    public private(set) var compressedBytes: Int64 = 0
    /// Uncompressed bytes produced so far.
    public private(set) var uncompressedBytes: Int64 = 0
    /// gzip members started (a member counts from its first byte).
    public private(set) var members = 0
    /// Whether the last member (or the raw stream) reached its end.
    private var atMemberEnd = false
    /// Compressed bytes of the current member seen so far.
    private var memberBytes: Int64 = 0
    private var firstBytes: [UInt8] = []
    private var failed = false

    public init(_ format: Format, bufferSize: Int = 256 << 10) {
        self.format = format
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: bufferSize, alignment: 16)
        _ = drz_inflate_init(stream, format == .gzip ? 15 + 16 : -15)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    /// Inflates `input`, calling `sink` with each run of uncompressed bytes. Throws a `StreamProblem` (or what
    /// `sink` throws) at the first sign of damage; the inflater is unusable after that.
    public func feed(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!failed, "Inflater fed after a failure")
        guard let base = input.baseAddress, input.count > 0 else { return }
        if format == .gzip && compressedBytes < 2 {
            for byte in input.prefix(2 - Int(compressedBytes)) { firstBytes.append(byte) }
            if firstBytes.count >= 1 && firstBytes[0] != 0x1f || firstBytes.count == 2 && firstBytes[1] != 0x8b {
                failed = true
                throw StreamProblem(
                    .notGzip, at: 0,
                    "does not start with the gzip magic bytes 1f 8b (starts with \(firstBytes.map { String(format: "%02x", $0) }.joined(separator: " ")))"
                )
            }
        }
        var offset = 0
        while offset < input.count {
            if atMemberEnd {
                guard format == .gzip else {
                    failed = true
                    throw StreamProblem(
                        .trailingGarbage, at: compressedBytes,
                        "\(input.count - offset) bytes follow the end of the deflate stream at byte \(compressedBytes)")
                }
                // Another member must start here; anything else (zero padding included) is trailing garbage.
                let next = input[offset]
                if next != 0x1f {
                    failed = true
                    throw StreamProblem(
                        .trailingGarbage, at: compressedBytes,
                        "trailing garbage after gzip member \(members) at byte \(compressedBytes) (byte \(String(format: "%02x", next)), not a gzip header)"
                    )
                }
                inflateReset(stream)
                atMemberEnd = false
                memberBytes = 0
            }
            if memberBytes == 0 { members += 1 }
            let available = input.count - offset
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: base.advanced(by: offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(min(available, Int(UInt32.max)))
            let before = Int(stream.pointee.avail_in)
            var code: Int32 = Z_OK
            repeat {
                stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(output.count)
                code = inflate(stream, Z_NO_FLUSH)
                let produced = output.count - Int(stream.pointee.avail_out)
                let consumed = before - Int(stream.pointee.avail_in)
                if code == Z_DATA_ERROR || code == Z_NEED_DICT || code == Z_STREAM_ERROR || code == Z_MEM_ERROR {
                    failed = true
                    let at = compressedBytes + Int64(consumed)
                    let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(code)"
                    // A member that does not even start with a gzip header is not a member: trailing garbage.
                    if format == .gzip && members > 1 && memberBytes + Int64(consumed) <= 10
                        && reason.contains("header")
                    {
                        throw StreamProblem(
                            .trailingGarbage, at: compressedBytes,
                            "trailing garbage after gzip member \(members - 1) at byte \(compressedBytes) (\(reason))")
                    }
                    throw StreamProblem(
                        .gzip, at: at,
                        "\(format == .gzip ? "gzip member \(members)" : "deflate stream"): \(reason) near compressed byte \(at)"
                    )
                }
                if produced > 0 {
                    uncompressedBytes += Int64(produced)
                    try sink(UnsafeRawBufferPointer(start: output.baseAddress, count: produced))
                }
            } while code == Z_OK && stream.pointee.avail_out == 0
            let consumed = before - Int(stream.pointee.avail_in)
            compressedBytes += Int64(consumed)
            memberBytes += Int64(consumed)
            offset += consumed
            if code == Z_STREAM_END {
                atMemberEnd = true
            } else if consumed == 0 && stream.pointee.avail_in > 0 && code != Z_OK {
                failed = true
                throw StreamProblem(.gzip, at: compressedBytes, "zlib made no progress (code \(code))")
            }
        }
    }

    /// The stream has ended: it must end at the end of a gzip member (or of the raw deflate stream).
    public func finish() throws {
        guard !failed else { return }
        if compressedBytes == 0 {
            throw StreamProblem(.truncated, at: 0, "the object is empty: no gzip member")
        }
        if !atMemberEnd {
            throw StreamProblem(
                .truncated, at: compressedBytes,
                "the stream ends inside \(format == .gzip ? "gzip member \(members)" : "the deflate stream") at byte \(compressedBytes) (truncated)"
            )
        }
    }
}

/// The other direction, for fixtures, the demo and the tests: one gzip member (or raw deflate) of `data`.
public enum Deflate {
    public static func compress(_ data: Data, format: Inflater.Format = .gzip, level: Int32 = 6) -> Data {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            deflateEnd(stream)
            stream.deallocate()
        }
        _ = drz_deflate_init(stream, level, format == .gzip ? 15 + 16 : -15)
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        data.withUnsafeBytes { raw in
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: raw.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(raw.count)
            var code: Int32 = Z_OK
            repeat {
                buffer.withUnsafeMutableBufferPointer { b in
                    stream.pointee.next_out = b.baseAddress
                    stream.pointee.avail_out = uInt(b.count)
                    code = deflate(stream, Z_FINISH)
                    out.append(b.baseAddress!, count: b.count - Int(stream.pointee.avail_out))
                }
            } while code == Z_OK
        }
        return out
    }
}
