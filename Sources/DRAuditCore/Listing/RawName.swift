import Foundation

/// File names on a local disk or an SFTP server are bytes; the index's keys are text. A name that is valid UTF-8
/// is its own key. Each byte of a sequence that is not valid UTF-8 is written `\xHH` (upper-case hex), and a
/// backslash that would read as such an escape (one followed by `x` and two hex digits) is written `\x5C`, so the
/// mapping is reversible (`bytes(key(b)) == b`) and therefore one-to-one: a rescan finds the same key again, and two
/// names never share one. Everything else about a key stays as listed; showing it safely is the output's job.
public enum RawName {
    /// The same for a name as readdir holds it: a listing makes a million of these, and the generic form is not
    /// specialized across modules.
    public static func key(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for byte in bytes where byte >= 0x80 || byte == UInt8(ascii: "\\") { return key(Array(bytes)) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The key text of a name (or of a `/`-joined path) given as bytes.
    public static func key<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if bytes.allSatisfy({ $0 < 0x80 && $0 != UInt8(ascii: "\\") }) { return String(decoding: bytes, as: UTF8.self) }
        let b = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(b.count + 8)
        var i = 0
        while i < b.count {
            let n = validSequenceLength(b, at: i)
            if n == 0 {
                appendEscape(b[i], to: &out)
                i += 1
                continue
            }
            if b[i] == UInt8(ascii: "\\"), looksLikeEscape(b, at: i) {
                appendEscape(b[i], to: &out)
            } else {
                out.append(contentsOf: b[i..<(i + n)])
            }
            i += n
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes a key stands for (the inverse of `key`).
    public static func bytes(_ key: String) -> [UInt8] {
        let u = Array(key.utf8)
        guard u.contains(UInt8(ascii: "\\")) else { return u }
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), looksLikeEscape(u, at: i), let hi = hex(u[i + 2]), let lo = hex(u[i + 3]) {
                out.append(hi << 4 | lo)
                i += 4
            } else {
                out.append(u[i])
                i += 1
            }
        }
        return out
    }

    /// Whether the name a key stands for is not valid UTF-8 (it holds `\xHH` escapes of bad bytes).
    public static func hasInvalidBytes(_ key: String) -> Bool {
        guard key.utf8.contains(UInt8(ascii: "\\")) else { return false }
        let b = bytes(key)
        var i = 0
        while i < b.count {
            let n = validSequenceLength(b, at: i)
            if n == 0 { return true }
            i += n
        }
        return false
    }

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        let digits = Array("0123456789ABCDEF".utf8)
        out += [UInt8(ascii: "\\"), UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
    }

    private static func looksLikeEscape(_ b: [UInt8], at i: Int) -> Bool {
        i + 3 < b.count && b[i + 1] == UInt8(ascii: "x") && hex(b[i + 2]) != nil && hex(b[i + 3]) != nil
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The length of the well-formed UTF-8 sequence at `i` (Unicode's table 3-7), or 0 when there is none.
    static func validSequenceLength(_ b: [UInt8], at i: Int) -> Int {
        let c = b[i]
        func cont(_ j: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool { j < b.count && range.contains(b[j]) }
        switch c {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return cont(i + 1) ? 2 : 0
        case 0xE0: return cont(i + 1, 0xA0...0xBF) && cont(i + 2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED: return cont(i + 1, 0x80...0x9F) && cont(i + 2) ? 3 : 0
        case 0xF0: return cont(i + 1, 0x90...0xBF) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF1...0xF3: return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4: return cont(i + 1, 0x80...0x8F) && cont(i + 2) && cont(i + 3) ? 4 : 0
        default: return 0
        }
    }
}

/// What a listed entry is when it is not a regular file or a folder. Such entries are indexed as `unrecognized`,
/// with this, and never followed or read.
public enum SpecialFile: String, Codable, Sendable, CaseIterable {
    case symlink
    case danglingSymlink = "dangling-symlink"
    case fifo
    case socket
    case characterDevice = "character-device"
    case blockDevice = "block-device"
    case other

    /// From POSIX mode bits (`st_mode`, or SFTP's permissions, which carry the same type bits); nil for a regular
    /// file or a folder.
    public init?(mode: UInt32) {
        switch mode & 0o170000 {
        case 0o100000, 0o040000: return nil
        case 0o120000: self = .symlink
        case 0o010000: self = .fifo
        case 0o140000: self = .socket
        case 0o020000: self = .characterDevice
        case 0o060000: self = .blockDevice
        default: self = .other
        }
    }

    public var description: String {
        switch self {
        case .symlink: return "a symbolic link"
        case .danglingSymlink: return "a dangling symbolic link"
        case .fifo: return "a FIFO"
        case .socket: return "a socket"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .other: return "a special file"
        }
    }
}
