import Foundation

/// Fixed-width UTC timestamps as the backup tools write them. Built by hand so a hostile
/// name cannot smuggle in a locale, a time zone or a lenient "Feb 31".
public enum UTC {
    // Civil-calendar arithmetic (proleptic Gregorian, as in Howard Hinnant's date algorithms): no Calendar,
    // no locale, no time zone database, and fast enough to parse a million names.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z: Int) -> (year: Int, month: Int, day: Int) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `ymd` and `hms` must be exactly YYYYMMDD and HHMMSS in ASCII digits.
    public static func date(ymd: Substring, hms: Substring) -> Date? {
        guard let d = digits(ymd, 8), let t = digits(hms, 6) else { return nil }
        return date(
            year: d / 10000, month: d / 100 % 100, day: d % 100, hour: t / 10000, minute: t / 100 % 100, second: t % 100
        )
    }

    private static func digits(_ text: Substring, _ count: Int) -> Int? {
        // Length first: a long run of digits in an object name would otherwise overflow (found by fuzzing).
        guard text.utf8.count == count else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= 48 && byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    /// A valid UTC date, or nil for impossible ones (month 13, 30 February, hour 24).
    public static func date(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) -> Date? {
        guard (1970...9999).contains(year), (1...12).contains(month), day >= 1, day <= daysInMonth(year, month),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        let days = daysFromCivil(year, month, day)
        return Date(timeIntervalSince1970: TimeInterval(days * 86400 + hour * 3600 + minute * 60 + second))
    }

    public struct Parts: Equatable, Sendable {
        public var year, month, day, hour, minute, second: Int
        /// 1 = Sunday … 7 = Saturday, as Calendar counts.
        public var weekday: Int
    }

    public static func parts(_ date: Date) -> Parts {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rest = seconds - days * 86400
        let (y, m, d) = civil(fromDays: days)
        return Parts(
            year: y, month: m, day: d, hour: rest / 3600, minute: rest / 60 % 60, second: rest % 60,
            weekday: ((days + 4) % 7 + 7) % 7 + 1)
    }

    /// RFC 3339 in UTC with a `Z`, whole seconds.
    public static func rfc3339(_ date: Date) -> String { format(date, "YYYY-MM-DDThh:mm:ssZ") }

    /// `pattern` with `YYYY`, `MM`, `DD`, `hh`, `mm` and `ss` replaced by the date's fields; other bytes kept.
    /// By hand, not String(format:): reports and pair listings format a date per run and a name per file.
    public static func format(_ date: Date, _ pattern: StaticString) -> String {
        let c = parts(date)
        var out = Array(UnsafeBufferPointer(start: pattern.utf8Start, count: pattern.utf8CodeUnitCount))
        var i = out.count - 1
        var fieldEnd: (UInt8, Int)? = nil
        while i >= 0 {
            let byte = out[i]
            let value: Int? =
                switch byte {
                case UInt8(ascii: "Y"): c.year
                case UInt8(ascii: "M"): c.month
                case UInt8(ascii: "D"): c.day
                case UInt8(ascii: "h"): c.hour
                case UInt8(ascii: "m"): c.minute
                case UInt8(ascii: "s"): c.second
                default: nil
                }
            if let value {
                // Digits fill each field from its right end.
                if fieldEnd?.0 != byte { fieldEnd = (byte, i) }
                var v = value
                for _ in 0..<(fieldEnd!.1 - i) { v /= 10 }
                out[i] = UInt8(ascii: "0") + UInt8(v % 10)
            } else {
                fieldEnd = nil
            }
            i -= 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3339: `2026-11-25T02:00:00Z`, with fractions (dropped: whole seconds are enough here), or with
    /// a numeric offset. Hand-parsed: S3 listings carry one per object, and Foundation's formatter is slow.
    public static func parseRFC3339(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { b -> Date? in
            func number(_ at: Int, _ count: Int) -> Int? {
                guard at + count <= b.count else { return nil }
                var v = 0
                for i in at..<(at + count) {
                    let d = b[i] &- 48
                    guard d <= 9 else { return nil }
                    v = v * 10 + Int(d)
                }
                return v
            }
            guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
                b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
                b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
                let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                let base = date(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            else { return nil }
            var i = 19
            if b[i] == UInt8(ascii: ".") {
                i += 1
                let digitsStart = i
                while i < b.count, b[i] &- 48 <= 9 { i += 1 }
                guard i > digitsStart else { return nil }
            }
            guard i < b.count else { return nil }
            switch b[i] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                return i + 1 == b.count ? base : nil
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard i + 6 == b.count, b[i + 3] == UInt8(ascii: ":"), let oh = number(i + 1, 2),
                    let om = number(i + 4, 2),
                    oh <= 23, om <= 59
                else { return nil }
                let offset = TimeInterval(oh * 3600 + om * 60)
                return b[i] == UInt8(ascii: "+") ? base.addingTimeInterval(-offset) : base.addingTimeInterval(offset)
            default:
                return nil
            }
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Durations as operators write them in the config: `90s`, `30m`, `26h`, `7d`, or combined `1h30m`.
public enum DurationText {
    /// The longest duration taken: 100 years. A tolerance, RPO or timeout beyond it is a typo, and a number of
    /// seconds past `Int.max` would trap where it is formatted or handed to libcurl.
    public static let maximum: TimeInterval = 100 * 365 * 86400

    public struct Invalid: Error, Equatable, CustomStringConvertible, Sendable {
        /// Completes "'<text>' …": why the text is refused.
        public var reason: String
        public var description: String { reason }
        public static let notADuration = Invalid(reason: "is not a duration (write it like 30m, 26h or 1d)")
        public static let tooLong = Invalid(reason: "is longer than 100 years, the longest duration dr-audit takes")
    }

    public static func parse(_ text: String) -> TimeInterval? { try? read(text) }

    /// The duration `text` writes, or why it is not one.
    public static func read(_ text: String) throws(Invalid) -> TimeInterval {
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
                throw .notADuration
            }
        }
        guard number.isEmpty, sawUnit else { throw .notADuration }
        guard total.isFinite, total <= maximum else { throw .tooLong }
        return total
    }

    /// `1d2h3m4s`; whatever the value (a negative, huge or not finite one is clamped, never trapped on).
    public static func format(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite else { return seconds.isNaN ? "?" : seconds < 0 ? "-inf" : "inf" }
        if seconds < 0 { return "-" + format(-seconds) }
        var rest = Int(min(seconds, 1e15).rounded())
        if rest == 0 { return "0s" }
        var parts: [String] = []
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined()
    }
}
