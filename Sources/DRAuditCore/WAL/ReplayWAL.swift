import Foundation

/// One segment of one WAL archive.
public struct WALPosition: Hashable, Sendable, Comparable {
    /// pgBackRest `…/archive/<stanza>/<archive-id>`, barman-cloud `<server>/wals`.
    public var archive: String
    public var segment: WALSegment

    public init(archive: String, segment: WALSegment) {
        self.archive = archive
        self.segment = segment
    }

    /// The position of an archived segment's object, or nil when the key is no WAL segment.
    public init?(key: String) {
        guard let place = Classifier.walPlace(key), place.kind.isWALSegment else { return nil }
        self.init(archive: String(place.archive), segment: place.file.segment)
    }

    public static func < (a: WALPosition, b: WALPosition) -> Bool { (a.archive, a.segment) < (b.archive, b.segment) }
}

/// The WAL a point-in-time restore replays after its base backup is consistent: from the segment after the
/// backup's WAL stop through the first segment archived at or after the target (the one that holds the target's
/// moment; PostgreSQL stops inside it). The consistency WAL itself belongs to the backup.
public enum ReplayWAL {
    /// One archived segment as the index lists it.
    public struct Segment: Hashable, Sendable {
        public var key: String
        public var size: Int64
        public var segment: WALSegment
        /// Archive time, Unix seconds.
        public var time: Int64

        public init(key: String, size: Int64, segment: WALSegment, time: Int64) {
            self.key = key
            self.size = size
            self.segment = segment
            self.time = time
        }

        /// Stored as PostgreSQL wrote it: no compression extension on the file name.
        public var isUncompressed: Bool { !(key.split(separator: "/").last ?? "").contains(".") }
    }

    /// PostgreSQL's default segment size, the one the segment arithmetic (256 a log) stands for.
    public static let segmentBytes: Int64 = 16 << 20

    /// Where the replay of a point-in-time pair starts: its base backup's archive, the segment after its WAL stop,
    /// and the target. nil for a backup point, or a backup whose metadata names no WAL range or archive.
    public static func start(of pair: Pair) -> (archive: String, from: WALSegment, target: Date)? {
        guard pair.recovery == .pitr, let range = pair.management.wal, let archive = range.archive else { return nil }
        return (archive, range.stop.next, pair.point)
    }

    /// Of `segments` (one archive and timeline, in position order), those the replay reads: consecutive from
    /// `from` through the first archived at or after `target`. Stops at a hole (the audit already cut the window
    /// there).
    public static func needed(_ segments: [Segment], from: WALSegment, target: Date) -> [Segment] {
        var collector = Collector(from: from, target: target)
        for segment in segments where collector.take(segment) { break }
        return collector.needed
    }

    /// The same rule for segments handed over one by one (from an index cursor): `take` says when nothing after
    /// the segment can be needed.
    public struct Collector {
        public private(set) var needed: [Segment] = []
        private var expected: UInt64
        private let timeline: UInt32
        private let until: Int64
        private var reachedTarget = false

        public init(from: WALSegment, target: Date) {
            expected = from.number
            timeline = from.timeline
            until = Int64(target.timeIntervalSince1970.rounded(.up))
        }

        /// Takes the next segment in position order; true once the replay needs nothing from it on.
        public mutating func take(_ s: Segment) -> Bool {
            guard s.segment.timeline == timeline else { return false }
            if let last = needed.last, s.segment.number == last.segment.number {
                // Another object of a segment taken: pgBackRest refuses a segment it finds twice, so both count.
                needed.append(s)
                return false
            }
            if reachedTarget { return true }
            guard s.segment.number >= expected else { return false }
            guard s.segment.number == expected else { return true }  // a hole
            needed.append(s)
            expected += 1
            reachedTarget = s.time >= until
            return false
        }
    }
}
