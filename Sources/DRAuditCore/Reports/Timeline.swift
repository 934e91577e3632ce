import Foundation

/// A time axis across a width: where each moment is drawn, and the date ticks to label it with (UTC).
public struct TimeAxis: Equatable, Sendable {
    /// A grid of calendar moments in UTC: every n hours or days, Mondays, the first of every n months, or of
    /// every n years.
    public enum Step: Equatable, Sendable {
        case hours(Int)
        case days(Int)
        case weeks
        case months(Int)
        case years(Int)

        /// About how long one step is, for choosing a step that fits the width.
        var seconds: TimeInterval {
            switch self {
            case .hours(let n): TimeInterval(n) * 3600
            case .days(let n): TimeInterval(n) * 86400
            case .weeks: 7 * 86400
            case .months(let n): TimeInterval(n) * 30.44 * 86400
            case .years(let n): TimeInterval(n) * 365.25 * 86400
            }
        }

        /// The moments of this grid from `from` through `to`.
        func grid(from: Date, to: Date) -> [Date] {
            var out: [Date] = []
            switch self {
            case .hours, .days, .weeks:
                // Fixed periods counted from the epoch (a Thursday: Mondays are 4 days later).
                let period = seconds
                let offset: TimeInterval = self == .weeks ? 4 * 86400 : 0
                var t = ((from.timeIntervalSince1970 - offset) / period).rounded(.up) * period + offset
                while t <= to.timeIntervalSince1970 {
                    out.append(Date(timeIntervalSince1970: t))
                    t += period
                }
            case .months(let n), .years(let n):
                let months = self == .months(n) ? n : 12 * n
                let c = UTC.parts(from)
                // The first month of the grid at or before `from`: month numbers counted from January of year 0.
                var index = (c.year * 12 + c.month - 1) / months * months
                while true {
                    let days = UTC.daysFromCivil(index / 12, index % 12 + 1, 1)
                    let t = Date(timeIntervalSince1970: TimeInterval(days) * 86400)
                    if t > to { break }
                    if t >= from { out.append(t) }
                    index += months
                }
            }
            return out
        }

        /// A tick's label: short, the year left to the axis caption except on month and year steps.
        func label(_ t: Date) -> String {
            let c = UTC.parts(t)
            let month = Self.monthNames[c.month - 1]
            switch self {
            case .hours:
                return c.hour == 0 ? "\(month) \(c.day)" : UTC.format(t, "hh:00")
            case .days, .weeks: return "\(month) \(c.day)"
            case .months: return "\(month) \(c.year)"
            case .years: return "\(c.year)"
            }
        }

        static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    }

    /// Tick steps and label steps, finest first: the first whose ticks are at least `minTickSpacing` apart and
    /// whose labels at least `minLabelSpacing` is used. Day ticks with labels every other day, then on Mondays, come
    /// before month ticks. Each label step's moments are also moments of its tick step.
    static let ladder: [(tick: Step, label: Step)] = [
        (.hours(1), .hours(1)), (.hours(1), .hours(3)), (.hours(1), .hours(6)), (.hours(3), .hours(12)),
        (.hours(6), .days(1)), (.days(1), .days(1)), (.days(1), .days(2)), (.days(1), .weeks), (.months(1), .months(1)),
        (.months(1), .months(3)), (.months(3), .years(1)), (.years(1), .years(1)),
        (.years(1), .years(5)), (.years(5), .years(10)), (.years(10), .years(50)), (.years(50), .years(100)),
    ]
    static let minTickSpacing = 6.0
    static let minLabelSpacing = 56.0
    /// How wide the break that stands for a long empty stretch at the end is drawn.
    public static let breakWidth = 70.0

    public struct Tick: Equatable, Sendable {
        public var time: Date
        /// Set on ticks of the label step.
        public var label: String?
    }

    /// The first moment drawn.
    public var start: Date
    /// The last moment drawn: the later of the last event and the report's generation time.
    public var end: Date
    /// Set when the stretch from the last event to `end` would take most of the width: the scale stops here, and
    /// the rest is drawn as a break of `breakWidth`.
    public var breakFrom: Date?
    public var left: Double
    public var right: Double
    public var tickStep: Step
    public var labelStep: Step
    public var ticks: [Tick]

    /// An axis over `events` that ends at the later of the last one and `now`.
    public init(events: [Date], now: Date, left: Double, right: Double) {
        let first = events.min() ?? now.addingTimeInterval(-86400)
        let last = max(events.max() ?? now, first)
        end = max(last, now)
        // A stretch without events after the last one is cut short when it would take over a third of the width.
        var scaleEnd = end
        breakFrom = nil
        if end.timeIntervalSince(last) > end.timeIntervalSince(first) / 3 {
            let cut = last.addingTimeInterval(max(600, last.timeIntervalSince(first) * 0.02))
            if cut < end {
                breakFrom = cut
                scaleEnd = cut
            }
        }
        start = min(first, scaleEnd.addingTimeInterval(-3600))  // at least an hour wide
        self.left = left
        self.right = right
        let scaleRight = breakFrom == nil ? right : right - Self.breakWidth
        let perSecond = (scaleRight - left) / scaleEnd.timeIntervalSince(start)
        let (tick, label) =
            Self.ladder.first {
                $0.tick.seconds * perSecond >= Self.minTickSpacing
                    && $0.label.seconds * perSecond >= Self.minLabelSpacing
            } ?? Self.ladder[Self.ladder.count - 1]
        tickStep = tick
        labelStep = label
        let labelled = Set(label.grid(from: start, to: scaleEnd))
        ticks = tick.grid(from: start, to: scaleEnd).map {
            Tick(time: $0, label: labelled.contains($0) ? label.label($0) : nil)
        }
    }

    /// Where the scale ends: `right`, or where the break begins.
    public var scaleRight: Double { breakFrom == nil ? right : right - Self.breakWidth }

    /// Where `t` is drawn (clamped to the axis).
    public func x(_ t: Date) -> Double {
        let t = min(max(t, start), end)
        guard let cut = breakFrom else {
            return left + (right - left) * t.timeIntervalSince(start) / end.timeIntervalSince(start)
        }
        if t <= cut { return left + (scaleRight - left) * t.timeIntervalSince(start) / cut.timeIntervalSince(start) }
        return scaleRight + Self.breakWidth * t.timeIntervalSince(cut) / end.timeIntervalSince(cut)
    }
}
