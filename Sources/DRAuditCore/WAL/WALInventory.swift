import Foundation

/// Every archived WAL segment of a management target, kept as runs of consecutive segments: what the judgement
/// needs is where the sequence is unbroken and where it is not, so a million segments in one unbroken sequence
/// cost one run, not a million values.
public struct WALInventory: Sendable {
    /// Segments `first`…`last` of one timeline, all present; `firstTime`/`lastTime` are the archive times (Unix
    /// seconds) of the first and the last.
    public struct Run: Hashable, Sendable {
        public var first: UInt64
        public var last: UInt64
        public var firstTime: Int64
        public var lastTime: Int64
    }

    /// One archive (pgBackRest `…/archive/<stanza>/<archive-id>`, barman-cloud `<server>/wals`) and timeline.
    public struct Line: Hashable, Sendable, Comparable {
        public var archive: String
        public var timeline: UInt32
        public init(archive: String, timeline: UInt32) {
            self.archive = archive
            self.timeline = timeline
        }
        public static func < (a: Line, b: Line) -> Bool { (a.archive, a.timeline) < (b.archive, b.timeline) }
    }

    public private(set) var runs: [Line: [Run]] = [:]
    /// How many distinct segments are archived.
    public private(set) var segmentCount = 0
    /// The newest archive time of any segment (Unix seconds).
    public private(set) var newestTime: Int64?

    private var current: (line: Line, runs: [Run])?

    public init() {}

    /// Segments given in any order, for tests and small inputs.
    public init(_ segments: [(archive: String, segment: WALSegment, time: Date)]) {
        let sorted = segments.sorted {
            ($0.archive, $0.segment.timeline, $0.segment.number) < ($1.archive, $1.segment.timeline, $1.segment.number)
        }
        for s in sorted {
            add(
                archive: s.archive, timeline: s.segment.timeline, number: s.segment.number,
                time: Int64(s.time.timeIntervalSince1970.rounded(.down)))
        }
        finish()
    }

    /// Adds one archived segment. Segments must come grouped by archive and timeline and in position order within
    /// each (as the index hands them out); a repeated segment keeps its earliest archive time. Call `finish()` last.
    public mutating func add(archive: String, timeline: UInt32, number: UInt64, time: Int64) {
        newestTime = max(newestTime ?? time, time)
        if var open = current, open.line.archive == archive, open.line.timeline == timeline {
            current = nil  // not a copy of the runs array while it grows
            if var last = open.runs.last, number <= last.last + 1 {
                if number == last.last + 1 {
                    last.last = number
                    last.lastTime = time
                    segmentCount += 1
                } else if number == last.last {
                    last.lastTime = min(last.lastTime, time)
                    if last.first == last.last { last.firstTime = last.lastTime }
                }
                open.runs[open.runs.count - 1] = last
            } else {
                open.runs.append(Run(first: number, last: number, firstTime: time, lastTime: time))
                segmentCount += 1
            }
            current = open
            return
        }
        finish()
        current = (
            Line(archive: archive, timeline: timeline),
            [Run(first: number, last: number, firstTime: time, lastTime: time)]
        )
        segmentCount += 1
    }

    /// Files the runs of the line being added.
    public mutating func finish() {
        guard let open = current else { return }
        current = nil
        runs[open.line, default: []] += open.runs
    }

    public var isEmpty: Bool { segmentCount == 0 }

    /// The run holding `segment` in `archive`, with its index in the line.
    public func run(holding segment: WALSegment, in archive: String) -> (index: Int, run: Run)? {
        guard let line = runs[Line(archive: archive, timeline: segment.timeline)] else { return nil }
        var low = 0
        var high = line.count
        while low < high {
            let mid = (low + high) / 2
            if line[mid].last < segment.number { low = mid + 1 } else { high = mid }
        }
        guard low < line.count, line[low].first <= segment.number else { return nil }
        return (low, line[low])
    }

    /// The run after the `index`th of a line, if any: the segments after a hole.
    public func run(after index: Int, in archive: String, timeline: UInt32) -> Run? {
        guard let line = runs[Line(archive: archive, timeline: timeline)], index + 1 < line.count else { return nil }
        return line[index + 1]
    }
}
