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

    /// A duration in its largest whole unit, for the break's label (the title carries the exact times).
    public static func roughly(_ seconds: TimeInterval) -> String {
        for (unit, size) in [("d", 86400.0), ("h", 3600.0), ("m", 60.0)] where seconds >= 2 * size {
            return "\(Int(seconds / size))\(unit)"
        }
        return DurationText.format(seconds)
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

/// The report's timeline as marks on a time axis: what the SVG draws, each with the text of its tooltip.
public struct Timeline: Sendable {
    /// What a mark shows; the raw value is its SVG class.
    public enum Kind: String, Sendable, CaseIterable {
        case restorableBackup = "backup restorable"
        case unrestorableBackup = "backup unrestorable"
        case recoveryWindow = "recovery-window"
        case walHole = "wal-hole"
        case completeRun = "run complete"
        case incompleteRun = "run incomplete"
        case manualRun = "run manual"
        case backupPair = "pair backup"
        case pitrPair = "pair pitr"
        case rpoGap = "rpo-gap"
    }

    public struct Mark: Equatable, Sendable {
        public var kind: Kind
        /// A point's time, a stretch's start, a pair's management point.
        public var from: Date
        /// A stretch's end; a pair's portal run middle; a point's time again.
        public var to: Date
        /// Recovery windows, WAL holes and PITR points: the lane of the band they sit in.
        public var lane: Int = 0
        /// Pairs: the run is a manual one (drawn on its own row).
        public var toManualRun = false
        /// The tooltip: exact names and times, not yet escaped.
        public var title: String
    }

    public var axis: TimeAxis
    /// Oldest first within each kind, in drawing order: shaded gaps, windows, holes, pairs, backups, runs.
    public var marks: [Mark]
    /// Rows of the recovery-window band (windows of different archives or timelines may overlap).
    public var lanes: Int
    public var hasManualRuns: Bool

    public func marks(_ kind: Kind) -> [Mark] { marks.filter { $0.kind == kind } }
}

extension Report {
    /// The timeline of the assessment: management backups (restorable or not) over their recovery windows with
    /// the WAL holes that end them, portal runs (complete, incomplete, manual), a connector per pair from its
    /// management point to its run, and the stretches without a restore point longer than the RPO.
    public func timeline(left: Double = 150, right: Double = 1185) -> Timeline {
        typealias Mark = Timeline.Mark
        let pairing = assessment.pairing
        let management = assessment.management
        let restorable = Set(
            management.restorable.map(\.id) + pairing.pairs.map(\.management.id) + pairing.unpairedManagement.map(\.id))
        // Every backup on the storage, whichever list it comes in.
        var backups: [ManagementBackup] = []
        var seen: Set<String> = []
        for b in management.backups + managementBackups + pairing.pairs.map(\.management) + pairing.unpairedManagement
        where seen.insert(b.id).inserted {
            backups.append(b)
        }
        backups.sort { ($0.time, $0.id) < ($1.time, $1.id) }

        // Recovery windows in lanes: each in the first lane whose last window ended before it starts.
        let windows = pairing.recoveryWindows.isEmpty ? management.recoveryWindows : pairing.recoveryWindows
        var laneEnds: [Date] = []
        var windowLanes: [Int] = []
        for w in windows {
            if let lane = laneEnds.firstIndex(where: { $0 < w.from }) {
                laneEnds[lane] = w.to
                windowLanes.append(lane)
            } else {
                laneEnds.append(w.to)
                windowLanes.append(laneEnds.count - 1)
            }
        }
        func lane(archive: String, at t: Date) -> Int {
            windows.indices.first { windows[$0].archive == archive && windows[$0].from <= t && t <= windows[$0].to }
                .map { windowLanes[$0] } ?? 0
        }

        let rpo = DurationText.format(policy.rpo)
        var marks: [Mark] = []
        for gap in gaps {
            let until = gap.to == now ? "\(UTC.rfc3339(gap.to)) (report time)" : UTC.rfc3339(gap.to)
            marks.append(
                Mark(
                    kind: .rpoGap, from: gap.from, to: gap.to,
                    title:
                        "no restore point from \(UTC.rfc3339(gap.from)) to \(until): \(DurationText.format(gap.to.timeIntervalSince(gap.from))), longer than the RPO (\(rpo))"
                ))
        }
        for (w, lane) in zip(windows, windowLanes) {
            marks.append(
                Mark(
                    kind: .recoveryWindow, from: w.from, to: w.to, lane: lane,
                    title:
                        "recovery window \(w.archive) timeline \(w.timeline): \(UTC.rfc3339(w.from)) to \(UTC.rfc3339(w.to)) (\(DurationText.format(w.to.timeIntervalSince(w.from)))); backups \(w.backups.joined(separator: ", "))"
                ))
        }
        for hole in management.gaps {
            marks.append(
                Mark(
                    kind: .walHole, from: hole.lastBeforeTime, to: hole.firstAfterTime,
                    lane: lane(archive: hole.archive, at: hole.lastBeforeTime),
                    title:
                        "WAL hole in \(hole.archive): after \(hole.lastBefore.name) (archived \(UTC.rfc3339(hole.lastBeforeTime))) up to \(hole.firstAfter.name) (archived \(UTC.rfc3339(hole.firstAfterTime))); ends the recovery window of \(hole.backups.joined(separator: ", "))"
                ))
        }
        for p in pairing.pairs.reversed() {
            let run = "portal run \(UTC.rfc3339(p.run.start)) to \(UTC.rfc3339(p.run.end))"
            let point =
                p.recovery == .backup
                ? "management backup \(p.management.id) stopped \(UTC.rfc3339(p.point))"
                : "management PITR point \(UTC.rfc3339(p.point)) from base backup \(p.management.id)"
            // The window of its base backup holds the point (any window that does, should none list it).
            let holding = windows.indices.filter { windows[$0].from <= p.point && p.point <= windows[$0].to }
            let windowLane = holding.first { windows[$0].backups.contains(p.management.id) } ?? holding.first
            marks.append(
                Mark(
                    kind: p.recovery == .backup ? .backupPair : .pitrPair, from: p.point, to: p.run.middle,
                    lane: p.recovery == .pitr ? (windowLane.map { windowLanes[$0] } ?? 0) : 0,
                    toManualRun: !p.run.isScheduled,
                    title: "pair: \(point) with \(run) (skew \(DurationText.format(p.skew)))"))
        }
        for b in backups {
            let ok = restorable.contains(b.id)
            let problem = management.problems[b.id] ?? b.detail ?? b.status.rawValue
            let stop = b.stop.map { " to \(UTC.rfc3339($0))" } ?? " (no stop time)"
            marks.append(
                Mark(
                    kind: ok ? .restorableBackup : .unrestorableBackup, from: b.time, to: b.time,
                    title:
                        "management backup \(b.id) (\(b.type), \(b.format.rawValue)) \(UTC.rfc3339(b.start))\(stop): \(ok ? "restorable" : "not restorable: \(problem)")"
                ))
        }
        let paired = Dictionary(pairing.pairs.map { ($0.run.start, $0) }, uniquingKeysWith: { a, _ in a })
        for r in pairing.runs {
            var text =
                "portal run \(UTC.rfc3339(r.start)) to \(UTC.rfc3339(r.end)), \(r.isScheduled ? "scheduled" : "manual"): "
            text += r.isComplete ? "complete" : r.isScheduled ? "incomplete" : "not complete"
            text += "; system backup \(r.system?.fileName ?? "missing"); \(r.siteCount) site backups"
            if !r.missingSites.isEmpty { text += "; missing sites \(r.missingSites.joined(separator: ", "))" }
            if r.emptyCount > 0 { text += "; \(r.emptyCount) empty files" }
            if let p = paired[r.start] { text += "; paired with management point \(UTC.rfc3339(p.point))" }
            marks.append(
                Mark(
                    kind: !r.isScheduled ? .manualRun : r.isComplete ? .completeRun : .incompleteRun, from: r.start,
                    to: r.end, title: text))
        }
        let events = marks.filter { $0.kind != .rpoGap }.flatMap { [$0.from, $0.to] }
        return Timeline(
            axis: TimeAxis(events: events, now: now, left: left, right: right), marks: marks,
            lanes: max(1, laneEnds.count), hasManualRuns: pairing.runs.contains { !$0.isScheduled })
    }

    /// The timeline as inline SVG scaled to the page width (a viewBox `width` units wide): a legend, one row each
    /// for management backups, the recovery-window band, portal runs and manual runs, and a date axis. Every
    /// mark carries a `<title>` (escaped) with exact names and times; no script.
    public func timelineSVG(width: Double = 1200) -> String {
        typealias Mark = Timeline.Mark
        let left = 150.0
        let right = width - 15
        let t = timeline(left: left + 10, right: right - 10)  // marks at either end stay inside the plot
        let axis = t.axis
        func x(_ d: Date) -> String { num(axis.x(d)) }
        func num(_ v: Double) -> String { String(format: "%.1f", v) }
        let green = "#1a7f37"
        let amber = "#bf8700"
        let red = "#cf222e"
        let blue = "#0969da"
        let purple = "#8250df"
        let grey = "#57606a"
        func cross(_ cx: Double, _ cy: Double, _ color: String) -> String {
            "<path d=\"M\(num(cx - 4)) \(num(cy - 4)) l8 8 M\(num(cx - 4)) \(num(cy + 4)) l8 -8\" stroke=\"\(color)\" stroke-width=\"2.2\"/>"
        }

        // Legend: swatches and words, wrapped to the width.
        typealias Swatch = (_ x: Double, _ y: Double) -> String
        let legendItems: [(String, Swatch)] = [
            ("restorable backup", { "<circle cx=\"\(num($0 + 6))\" cy=\"\(num($1))\" r=\"4.5\" fill=\"\(green)\"/>" }),
            ("not restorable", { cross($0 + 6, $1, red) }),
            (
                "recovery window (PITR)",
                {
                    "<rect x=\"\(num($0))\" y=\"\(num($1 - 4))\" width=\"16\" height=\"8\" fill=\"\(blue)\" fill-opacity=\"0.35\"/>"
                }
            ),
            (
                "WAL hole",
                { "<rect x=\"\(num($0 + 4))\" y=\"\(num($1 - 7))\" width=\"4\" height=\"14\" fill=\"\(red)\"/>" }
            ),
            (
                "complete run",
                { "<rect x=\"\(num($0))\" y=\"\(num($1 - 6))\" width=\"12\" height=\"12\" fill=\"\(green)\"/>" }
            ),
            (
                "incomplete run",
                { "<rect x=\"\(num($0))\" y=\"\(num($1 - 6))\" width=\"12\" height=\"12\" fill=\"\(amber)\"/>" }
            ),
            (
                "manual run",
                {
                    "<rect x=\"\(num($0 + 1))\" y=\"\(num($1 - 5))\" width=\"10\" height=\"10\" fill=\"#fff\" stroke=\"\(purple)\" stroke-width=\"2\"/>"
                }
            ),
            (
                "pair at a backup",
                {
                    "<line x1=\"\(num($0))\" y1=\"\(num($1))\" x2=\"\(num($0 + 16))\" y2=\"\(num($1))\" stroke=\"\(green)\" stroke-width=\"1.5\"/>"
                }
            ),
            (
                "pair by PITR",
                {
                    "<line x1=\"\(num($0))\" y1=\"\(num($1))\" x2=\"\(num($0 + 16))\" y2=\"\(num($1))\" stroke=\"\(blue)\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\"/><circle cx=\"\(num($0 + 3))\" cy=\"\(num($1))\" r=\"3\" fill=\"#fff\" stroke=\"\(blue)\" stroke-width=\"1.5\"/>"
                }
            ),
            (
                "no restore point for longer than the RPO (\(DurationText.format(policy.rpo)))",
                {
                    "<rect x=\"\(num($0))\" y=\"\(num($1 - 7))\" width=\"16\" height=\"14\" fill=\"\(red)\" fill-opacity=\"0.12\"/>"
                }
            ),
            (
                "report time",
                {
                    "<line x1=\"\(num($0 + 6))\" y1=\"\(num($1 - 7))\" x2=\"\(num($0 + 6))\" y2=\"\(num($1 + 7))\" stroke=\"\(grey)\" stroke-dasharray=\"3 2\"/>"
                }
            ),
        ]
        var legend = ""
        var lx = 8.0
        var ly = 14.0
        for (text, swatch) in legendItems {
            let itemWidth = 22 + Double(text.count) * 6.2 + 18
            if lx + itemWidth > width - 8 && lx > 8 {
                lx = 8
                ly += 20
            }
            legend += swatch(lx, ly) + "<text x=\"\(num(lx + 22))\" y=\"\(num(ly + 4))\">\(html(text))</text>\n"
            lx += itemWidth
        }

        // Rows, top to bottom.
        let managementY = ly + 46
        let laneHeight = 10.0
        let laneGap = 3.0
        let bandTop = managementY + 13
        func laneY(_ lane: Int) -> Double { bandTop + Double(lane) * (laneHeight + laneGap) }
        let bandBottom = laneY(t.lanes) - laneGap
        let runsY = bandBottom + 36
        let manualY = runsY + 26
        let plotTop = managementY - 14
        let plotBottom = (t.hasManualRuns ? manualY : runsY) + 13
        let axisY = plotBottom + 6
        let height = axisY + 34

        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"Backup timeline\">\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#fff\"/>\n"
        svg += legend

        // Row labels, the band's tracks, the grid at labelled ticks.
        let rowLabels =
            [
                ("management backups", managementY), ("recovery windows", bandTop + (bandBottom - bandTop) / 2),
                ("portal runs", runsY),
            ] + (t.hasManualRuns ? [("manual portal runs", manualY)] : [])
        for (text, y) in rowLabels {
            svg += "<text x=\"8\" y=\"\(num(y + 4))\" fill=\"\(grey)\">\(text)</text>\n"
        }
        for lane in 0..<t.lanes {
            svg +=
                "<rect x=\"\(num(left))\" y=\"\(num(laneY(lane)))\" width=\"\(num(right - left))\" height=\"\(num(laneHeight))\" fill=\"#eaeef2\"/>\n"
        }
        if t.marks(.recoveryWindow).isEmpty {
            svg +=
                "<text x=\"\(num(left + 6))\" y=\"\(num(laneY(0) + laneHeight - 1.5))\" font-size=\"9\" fill=\"\(grey)\">no recovery window (no WAL archive covers a restorable backup)</text>\n"
        }
        if t.marks.isEmpty {
            svg +=
                "<text x=\"\(num((left + right) / 2))\" y=\"\(num(runsY - 12))\" text-anchor=\"middle\" fill=\"\(grey)\">no management backup and no portal run on the storage</text>\n"
        }
        for tick in axis.ticks where tick.label != nil {
            svg +=
                "<line x1=\"\(x(tick.time))\" y1=\"\(num(plotTop))\" x2=\"\(x(tick.time))\" y2=\"\(num(axisY))\" stroke=\"#d0d7de\" stroke-width=\"0.5\"/>\n"
        }

        // Marks: the title is an element's first child, so browsers show it on hover.
        func title(_ m: Mark) -> String { "<title>\(html(m.title))</title>" }
        func span(_ m: Mark, min minimum: Double) -> (x: Double, width: Double) {
            let a = axis.x(m.from)
            let w = axis.x(m.to) - a
            return w >= minimum ? (a, w) : (a + w / 2 - minimum / 2, minimum)
        }
        for m in t.marks {
            let cls = "class=\"\(m.kind.rawValue)\""
            switch m.kind {
            case .rpoGap:
                let s = span(m, min: 1)
                svg +=
                    "<rect \(cls) x=\"\(num(s.x))\" y=\"\(num(plotTop))\" width=\"\(num(s.width))\" height=\"\(num(plotBottom - plotTop))\" fill=\"\(red)\" fill-opacity=\"0.12\">\(title(m))</rect>\n"
            case .recoveryWindow:
                let s = span(m, min: 2)
                svg +=
                    "<rect \(cls) x=\"\(num(s.x))\" y=\"\(num(laneY(m.lane)))\" width=\"\(num(s.width))\" height=\"\(num(laneHeight))\" fill=\"\(blue)\" fill-opacity=\"0.35\">\(title(m))</rect>\n"
            case .walHole:
                let s = span(m, min: 4)
                svg +=
                    "<rect \(cls) x=\"\(num(s.x))\" y=\"\(num(laneY(m.lane) - 4))\" width=\"\(num(s.width))\" height=\"\(num(laneHeight + 8))\" fill=\"\(red)\">\(title(m))</rect>\n"
            case .backupPair, .pitrPair:
                let pitr = m.kind == .pitrPair
                let fromY = pitr ? laneY(m.lane) + laneHeight / 2 : managementY + 5
                let toY = (m.toManualRun ? manualY : runsY) - 7
                svg += "<g \(cls)>\(title(m))"
                svg +=
                    "<line x1=\"\(x(m.from))\" y1=\"\(num(fromY))\" x2=\"\(x(m.to))\" y2=\"\(num(toY))\" stroke=\"\(pitr ? blue : green)\" stroke-width=\"1.5\"\(pitr ? " stroke-dasharray=\"4 2\"" : "")/>"
                if pitr {
                    svg +=
                        "<circle cx=\"\(x(m.from))\" cy=\"\(num(fromY))\" r=\"3\" fill=\"#fff\" stroke=\"\(blue)\" stroke-width=\"1.5\"/>"
                }
                svg += "</g>\n"
            case .restorableBackup:
                svg +=
                    "<circle \(cls) cx=\"\(x(m.from))\" cy=\"\(num(managementY))\" r=\"4.5\" fill=\"\(green)\">\(title(m))</circle>\n"
            case .unrestorableBackup:
                svg += "<g \(cls)>\(title(m))\(cross(axis.x(m.from), managementY, red))</g>\n"
            case .completeRun, .incompleteRun, .manualRun:
                let s = span(m, min: 5)
                let y = (m.kind == .manualRun ? manualY : runsY) - 7
                let paint =
                    switch m.kind {
                    case .completeRun: "fill=\"\(green)\""
                    case .incompleteRun: "fill=\"\(amber)\""
                    default: "fill=\"#fff\" stroke=\"\(purple)\" stroke-width=\"2\""
                    }
                svg +=
                    "<rect \(cls) x=\"\(num(s.x))\" y=\"\(num(y))\" width=\"\(num(s.width))\" height=\"14\" \(paint)>\(title(m))</rect>\n"
            }
        }

        // The report time, and the axis: ticks, labels, the break standing for a long empty stretch.
        let nowX = axis.x(now)
        svg +=
            "<g class=\"now\"><title>report generated \(UTC.rfc3339(now))</title><line x1=\"\(num(nowX))\" y1=\"\(num(plotTop - 6))\" x2=\"\(num(nowX))\" y2=\"\(num(axisY))\" stroke=\"\(grey)\" stroke-dasharray=\"3 2\"/>"
        svg +=
            "<text x=\"\(num(nowX))\" y=\"\(num(plotTop - 9))\" text-anchor=\"\(nowX > left + 120 ? "end" : "start")\" font-size=\"10\" fill=\"\(grey)\">\(UTC.format(now, "YYYY-MM-DD hh:mm")) UTC</text></g>\n"
        let years = Set([UTC.parts(axis.start).year, UTC.parts(axis.end).year]).sorted().map(String.init)
        svg +=
            "<text x=\"8\" y=\"\(num(axisY + 18))\" fill=\"\(grey)\">UTC, \(years.joined(separator: "–"))</text>\n"
        let scaleRight = axis.breakFrom == nil ? right : axis.scaleRight
        svg +=
            "<line x1=\"\(num(left))\" y1=\"\(num(axisY))\" x2=\"\(num(scaleRight))\" y2=\"\(num(axisY))\" stroke=\"\(grey)\"/>\n"
        for tick in axis.ticks {
            let long = tick.label != nil
            svg +=
                "<line x1=\"\(x(tick.time))\" y1=\"\(num(axisY))\" x2=\"\(x(tick.time))\" y2=\"\(num(axisY + (long ? 6 : 3)))\" stroke=\"\(grey)\"/>"
            if let label = tick.label {
                svg +=
                    "<text x=\"\(x(tick.time))\" y=\"\(num(axisY + 18))\" text-anchor=\"\(axis.x(tick.time) > width - 40 ? "end" : "middle")\" font-size=\"10\">\(html(label))</text>"
            }
            svg += "\n"
        }
        if let cut = axis.breakFrom {
            let a = scaleRight
            let b = right
            svg +=
                "<g class=\"axis-break\"><title>no event from \(UTC.rfc3339(cut)) to \(UTC.rfc3339(axis.end)): drawn short</title>"
            svg +=
                "<line x1=\"\(num(a + 8))\" y1=\"\(num(axisY))\" x2=\"\(num(b))\" y2=\"\(num(axisY))\" stroke=\"\(grey)\"/>"
            svg +=
                "<path d=\"M\(num(a - 2)) \(num(axisY + 5)) l6 -10 M\(num(a + 4)) \(num(axisY + 5)) l6 -10\" stroke=\"\(grey)\" fill=\"none\"/>"
            svg +=
                "<text x=\"\(num((a + b) / 2))\" y=\"\(num(axisY + 18))\" text-anchor=\"middle\" font-size=\"10\" fill=\"\(grey)\">+\(TimeAxis.roughly(axis.end.timeIntervalSince(cut)))</text></g>\n"
        }
        return svg + "</svg>"
    }
}
