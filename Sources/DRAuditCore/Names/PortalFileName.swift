import Foundation

/// Portal backup file names:
/// `_portal_system_backup-YYYYMMDD.HHMMSS.tar.gz` and `<site>-YYYYMMDD.HHMMSS.tar.gz`, where `<site>` is
/// `<portal-web-host>@<porg>@<catalog>` or a custom site URL with `/` written as `@`.
/// Org and catalog names may contain `-`, so the timestamp is taken from the right.
public struct PortalFileName: Hashable, Sendable {
    public static let systemPrefix = "_portal_system_backup"
    private static let suffix = ".tar.gz"
    private static let stampLength = 15 // YYYYMMDD.HHMMSS

    public var kind: PortalBackupFile.Kind
    public var site: String?
    public var host: String?
    public var porg: String?
    public var catalog: String?
    public var time: Date

    public static func parse(_ name: String) -> PortalFileName? {
        guard name.hasSuffix(suffix), !name.contains("/"),
              name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count > stampLength + 1 else { return nil }
        let stamp = stem.suffix(stampLength)
        let dash = stem.dropLast(stampLength).last
        guard dash == "-" else { return nil }
        let parts = stamp.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let time = UTC.date(ymd: parts[0], hms: parts[1]) else { return nil }
        let prefix = String(stem.dropLast(stampLength + 1))

        if prefix == systemPrefix {
            return PortalFileName(kind: .system, time: time)
        }
        let pieces = prefix.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
        // A site always carries the portal host and at least one more `@` part; no part may be empty.
        guard pieces.count >= 2, pieces.allSatisfy({ !$0.isEmpty }), !prefix.hasPrefix(systemPrefix) else { return nil }
        var parsed = PortalFileName(kind: .site, site: prefix, host: pieces[0], time: time)
        if pieces.count == 3 {
            parsed.porg = pieces[1]
            parsed.catalog = pieces[2]
        }
        return parsed
    }

    /// The file name the portal would write, for generators and restore plans.
    public static func format(kind: PortalBackupFile.Kind, site: String?, time: Date) -> String {
        let c = UTC.components(time)
        let stamp = String(format: "%04d%02d%02d.%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        return "\(kind == .system ? systemPrefix : site!)-\(stamp)\(suffix)"
    }
}
