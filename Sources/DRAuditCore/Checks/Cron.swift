import Foundation

/// Five-field cron (minute hour day-of-month month day-of-week): `*`, lists, ranges and `/` steps, UTC.
public struct CronSchedule: Hashable, Sendable {
    var minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    var daysRestricted: Bool, weekdaysRestricted: Bool

    public init?(_ text: String) {
        let fields = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard fields.count == 5,
            let minutes = Self.field(fields[0], 0...59), let hours = Self.field(fields[1], 0...23),
            let days = Self.field(fields[2], 1...31), let months = Self.field(fields[3], 1...12),
            var weekdays = Self.field(fields[4], 0...7)
        else { return nil }
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        (self.minutes, self.hours, self.days, self.months, self.weekdays) = (minutes, hours, days, months, weekdays)
        daysRestricted = fields[2] != "*" && fields[2] != "?"
        weekdaysRestricted = fields[4] != "*" && fields[4] != "?"
    }

    private static func field(_ text: String, _ range: ClosedRange<Int>) -> Set<Int>? {
        var result: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = part.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2 else { return nil }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s > 0 else { return nil }
                step = s
            }
            var lo = range.lowerBound
            var hi = range.upperBound
            let base = stepParts[0]
            if base != "*" && base != "?" {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2, let a = Int(bounds[0]), range.contains(a) else { return nil }
                lo = a
                hi = stepParts.count == 2 ? range.upperBound : a
                if bounds.count == 2 {
                    guard let b = Int(bounds[1]), range.contains(b), b >= a else { return nil }
                    hi = b
                }
            }
            result.formUnion(stride(from: lo, through: hi, by: step))
        }
        return result
    }

    public func fires(at date: Date) -> Bool {
        let c = UTC.parts(date)
        guard minutes.contains(c.minute), hours.contains(c.hour), months.contains(c.month) else { return false }
        let dayOK = days.contains(c.day)
        let weekdayOK = weekdays.contains(c.weekday - 1)
        // Classic cron: when both day fields are restricted, either may match.
        if daysRestricted && weekdaysRestricted { return dayOK || weekdayOK }
        return dayOK && weekdayOK
    }

    /// Whether it fired at some minute in [time − span, time].
    public func firedWithin(_ span: TimeInterval, before time: Date) -> Bool {
        let last = (time.timeIntervalSince1970 / 60).rounded(.down) * 60
        // Minutes no earlier than time − span; at most a year of them (a tolerance is minutes to hours).
        let minutes = Int(((last - time.timeIntervalSince1970 + min(span, 366 * 86400)) / 60).rounded(.down))
        guard minutes >= 0 else { return false }
        return (0...minutes).contains { fires(at: Date(timeIntervalSince1970: last - Double($0) * 60)) }
    }

    /// Fire times in [from, from + span), minute resolution.
    public func fireTimes(from: Date, span: TimeInterval) -> [Date] {
        let start = (from.timeIntervalSince1970 / 60).rounded(.down) * 60
        return stride(from: start, to: start + span, by: 60).map(Date.init(timeIntervalSince1970:)).filter(fires)
    }

    /// Whether some fire of `a` falls within `tolerance` of some fire of `b` over a 31-day window.
    public static func align(_ a: CronSchedule, _ b: CronSchedule, tolerance: TimeInterval, from: Date) -> Bool {
        let window: TimeInterval = 31 * 86400
        let bTimes = b.fireTimes(from: from.addingTimeInterval(-tolerance), span: window + 2 * tolerance)
        guard !bTimes.isEmpty else { return false }
        for t in a.fireTimes(from: from, span: window) {
            if bTimes.contains(where: { abs($0.timeIntervalSince(t)) <= tolerance }) { return true }
        }
        return false
    }
}
