import Foundation

/// Portal backup file names:
/// `_portal_system_backup-YYYYMMDD.HHMMSS.tar.gz` and `<site>-YYYYMMDD.HHMMSS.tar.gz`, where `<site>` is
/// `<portal-web-host>@<porg>@<catalog>` or a custom site URL with `/` written as `@` (a URL that is only a host name
/// has no `@`): any such name but the system backup's is a site backup.
/// Org and catalog names may contain `-`, so the timestamp is taken from the right.
public struct PortalFileName: Hashable, Sendable {
    public static let systemPrefix = "_portal_system_backup"
    private static let suffix = ".tar.gz"
    private static let stampLength = 15  // YYYYMMDD.HHMMSS

    public var kind: PortalBackupFile.Kind
    /// Everything before the timestamp of a site file: its identity.
    public var site: String?
    public var time: Date

    /// `@`-separated parts of the site: the portal host, then porg and catalog (or a custom URL's path parts).
    public var siteParts: [Substring] { site.map { $0.split(separator: "@", omittingEmptySubsequences: false) } ?? [] }
    public var host: String? { siteParts.first.map(String.init) }
    public var porg: String? { siteParts.count == 3 ? String(siteParts[1]) : nil }
    public var catalog: String? { siteParts.count == 3 ? String(siteParts[2]) : nil }

    private static let suffixBytes = Array(suffix.utf8)
    private static let systemBytes = Array(systemPrefix.utf8)

    // Works on UTF-8 bytes: a scan parses every name it lists, and there may be millions.
    public static func parse(_ name: String) -> PortalFileName? {
        var name = name
        return name.withUTF8 { parse(bytes: $0) }
    }

    private static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> PortalFileName? {
        let n = b.count
        let stemEnd = n - suffixBytes.count
        // <prefix>-YYYYMMDD.HHMMSS.tar.gz with a non-empty prefix
        guard stemEnd > stampLength + 1 else { return nil }
        for (i, byte) in suffixBytes.enumerated() where b[stemEnd + i] != byte { return nil }
        // No control characters, spaces or path separators anywhere.
        for byte in b where byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "/") { return nil }
        let stampStart = stemEnd - stampLength
        guard b[stampStart - 1] == UInt8(ascii: "-"), b[stampStart + 8] == UInt8(ascii: ".") else { return nil }
        var ymd = 0
        var hms = 0
        for i in 0..<8 {
            let d = b[stampStart + i] &- 48
            guard d <= 9 else { return nil }
            ymd = ymd * 10 + Int(d)
        }
        for i in 9..<15 {
            let d = b[stampStart + i] &- 48
            guard d <= 9 else { return nil }
            hms = hms * 10 + Int(d)
        }
        guard
            let time = UTC.date(
                year: ymd / 10000, month: ymd / 100 % 100, day: ymd % 100,
                hour: hms / 10000, minute: hms / 100 % 100, second: hms % 100)
        else { return nil }
        let prefixEnd = stampStart - 1
        if prefixEnd == systemBytes.count && systemBytes.indices.allSatisfy({ b[$0] == systemBytes[$0] }) {
            return PortalFileName(kind: .system, site: nil, time: time)
        }
        // A site carries the portal host, then `@` parts (porg and catalog, or a custom URL's path; none for a custom
        // URL that is only a host name); no part may be empty.
        var ats = 0
        var partLength = 0
        for i in 0..<prefixEnd {
            if b[i] == UInt8(ascii: "@") {
                guard partLength > 0 else { return nil }
                ats += 1
                partLength = 0
            } else {
                partLength += 1
            }
        }
        guard partLength > 0 else { return nil }
        // The system prefix with anything after it is neither a system nor a site backup.
        if prefixEnd > systemBytes.count && systemBytes.indices.allSatisfy({ b[$0] == systemBytes[$0] }) { return nil }
        return PortalFileName(
            kind: .site, site: String(decoding: UnsafeBufferPointer(rebasing: b[0..<prefixEnd]), as: UTF8.self),
            time: time)
    }

    /// The file name the portal would write, for generators and restore plans.
    public static func format(kind: PortalBackupFile.Kind, site: String?, time: Date) -> String {
        let stamp = UTC.format(time, "YYYYMMDD.hhmmss")
        return (kind == .system ? systemPrefix : site!) + "-" + stamp + suffix
    }
}
