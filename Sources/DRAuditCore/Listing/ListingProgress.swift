import Foundation

/// The progress line of a listing on a terminal: objects listed so far and the rate, at most once per interval.
public struct ListingProgress: Sendable {
    public let source: String
    public let started: TimeInterval
    public let interval: TimeInterval
    private var lastShown: TimeInterval

    public init(source: String, started: TimeInterval, interval: TimeInterval = 1) {
        self.source = source
        self.started = started
        self.interval = interval
        lastShown = started
    }

    /// The line to show for `count` objects at time `now`, or nil when the last one is still fresh.
    public mutating func update(count: Int, now: TimeInterval) -> String? {
        guard now - lastShown >= interval else { return nil }
        lastShown = now
        return Self.line(source: source, count: count, seconds: now - started)
    }

    public static func line(source: String, count: Int, seconds: TimeInterval) -> String {
        let rate = seconds > 0 ? Int((Double(count) / seconds).rounded()) : 0
        return "\(source): \(grouped(count)) objects listed (\(grouped(rate))/s)"
    }

    /// 1234567 → "1,234,567" (no locale: the same on every machine).
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}
