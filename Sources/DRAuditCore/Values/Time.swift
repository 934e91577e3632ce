import Foundation

/// Fixed-width UTC timestamps as the backup tools write them. Built by hand so a hostile
/// name cannot smuggle in a locale, a time zone or a lenient "Feb 31".
public enum UTC {
    private static let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// `digits` must be exactly YYYYMMDD and HHMMSS.
    public static func date(ymd: Substring, hms: Substring) -> Date? {
        guard ymd.count == 8, hms.count == 6,
              ymd.allSatisfy(\.isASCIIDigit), hms.allSatisfy(\.isASCIIDigit),
              let year = Int(ymd.prefix(4)), let month = Int(ymd.dropFirst(4).prefix(2)), let day = Int(ymd.suffix(2)),
              let hour = Int(hms.prefix(2)), let minute = Int(hms.dropFirst(2).prefix(2)), let second = Int(hms.suffix(2))
        else { return nil }
        return date(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    public static func date(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Date? {
        guard (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: min(second, 59))
        guard let date = calendar.date(from: components) else { return nil }
        // Reject dates the calendar silently rolled over (20230231 → March 3rd).
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        return date
    }

    public static func components(_ date: Date) -> DateComponents {
        calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    }

    /// RFC 3339 in UTC with a `Z`, whole seconds.
    public static func rfc3339(_ date: Date) -> String {
        let c = components(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Accepts `2026-11-25T02:00:00Z`, with fractions, or with a numeric offset.
    public static func parseRFC3339(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Durations as operators write them in the config: `90s`, `30m`, `26h`, `7d`, or combined `1h30m`.
public enum DurationText {
    public static func parse(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var total: TimeInterval = 0
        var number = ""
        var sawUnit = false
        for ch in text.trimmingCharacters(in: .whitespaces) {
            if ch.isASCIIDigit {
                number.append(ch)
            } else if let unit = units[ch], let value = Double(number) {
                total += value * unit
                number = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        guard number.isEmpty, sawUnit else { return nil }
        return total
    }

    public static func format(_ seconds: TimeInterval) -> String {
        var rest = Int(seconds.rounded())
        if rest == 0 { return "0s" }
        var parts: [String] = []
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined()
    }
}
