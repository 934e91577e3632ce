import Foundation

/// pgBackRest repository layout: `backup/<stanza>/backup.info` (INI) and `backup/<stanza>/<label>/backup.manifest`.
public enum PgBackRest {
    public struct Label: Hashable, Sendable {
        /// `full`, `diff` or `incr`.
        public var type: String
        /// The full backup this one belongs to (itself for a full one).
        public var fullLabel: String
        /// When this backup started, from the label (UTC).
        public var time: Date
    }

    /// `YYYYMMDD-HHMMSSF` or `YYYYMMDD-HHMMSSF_YYYYMMDD-HHMMSS(D|I)`.
    public static func parseLabel(_ label: String) -> Label? {
        let parts = label.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
            let full = stamp(parts[0], suffix: ["F"]), full.suffix == "F"
        else { return nil }
        if parts.count == 1 {
            return Label(type: "full", fullLabel: label, time: full.time)
        }
        guard let own = stamp(parts[1], suffix: ["D", "I"]), own.time >= full.time else { return nil }
        return Label(type: own.suffix == "D" ? "diff" : "incr", fullLabel: String(parts[0]), time: own.time)
    }

    private static func stamp(_ text: Substring, suffix: Set<Character>) -> (time: Date, suffix: Character)? {
        guard text.count == 16, let last = text.last, suffix.contains(last) else { return nil }
        let body = text.dropLast()
        let halves = body.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2, let time = UTC.date(ymd: halves[0], hms: halves[1]) else { return nil }
        return (time, last)
    }

    /// One entry of `[backup:current]` in backup.info.
    public struct InfoEntry: Hashable, Sendable {
        public var label: String
        public var type: String
        public var start: Date
        public var stop: Date
        public var prior: String?
        public var error: Bool
        /// The first and last WAL segment the backup needs to be consistent (`backup-archive-start`/`-stop`).
        public var archiveStart: WALSegment?
        public var archiveStop: WALSegment?
        /// `db-id`: with the database's version in `[db:history]`, names the archive (`<version>-<db-id>`).
        public var dbID: Int?
        /// `option-archive-copy`: the backup holds its own WAL.
        public var archiveCopy: Bool
        /// `backup-info-size`: the size of the database the backup copied.
        public var size: Int64? = nil
    }

    /// A whole backup.info: its entries and the database versions by `db-id` (`[db:history]`).
    public struct InfoFile: Hashable, Sendable {
        public var entries: [InfoEntry]
        public var dbVersions: [Int: String]

        /// The archive id (`15-1`) of an entry, when the file says which database it belongs to.
        public func archiveID(_ entry: InfoEntry) -> String? {
            guard let id = entry.dbID, let version = dbVersions[id] else { return nil }
            return "\(version)-\(id)"
        }
    }

    public enum InfoError: Error, Equatable, CustomStringConvertible {
        case noCurrentSection
        case badEntry(label: String, reason: String)
        public var description: String {
            switch self {
            case .noCurrentSection: return "no [backup:current] section"
            case .badEntry(let label, let reason): return "entry \(label): \(reason)"
            }
        }
    }

    /// Parses the `[backup:current]` section of a backup.info file.
    public static func parseInfo(_ text: String) throws -> [InfoEntry] { try parseInfoFile(text).entries }

    /// Parses `[backup:current]` and `[db:history]` of a backup.info file.
    public static func parseInfoFile(_ text: String) throws -> InfoFile {
        var section: String?
        var sawCurrent = false
        var entries: [InfoEntry] = []
        var dbVersions: [Int: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast())
                if section == "backup:current" { sawCurrent = true }
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            let json = String(line[line.index(after: eq)...])
            if section == "backup:current" {
                entries.append(try parseEntry(label: key, json: json))
            } else if section == "db:history", let id = Int(key),
                let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any],
                let version = object["db-version"] as? String, !version.isEmpty
            {
                dbVersions[id] = version
            }
        }
        guard sawCurrent else { throw InfoError.noCurrentSection }
        return InfoFile(entries: entries, dbVersions: dbVersions)
    }

    private static func parseEntry(label: String, json: String) throws -> InfoEntry {
        guard parseLabel(label) != nil else { throw InfoError.badEntry(label: label, reason: "not a pgBackRest label") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
            throw InfoError.badEntry(label: label, reason: "value is not a JSON object")
        }
        guard let type = object["backup-type"] as? String, ["full", "diff", "incr"].contains(type) else {
            throw InfoError.badEntry(label: label, reason: "missing or unknown backup-type")
        }
        guard let start = (object["backup-timestamp-start"] as? NSNumber)?.doubleValue,
            let stop = (object["backup-timestamp-stop"] as? NSNumber)?.doubleValue
        else {
            throw InfoError.badEntry(label: label, reason: "missing backup-timestamp-start/stop")
        }
        let prior = object["backup-prior"] as? String
        if type != "full" && prior == nil {
            throw InfoError.badEntry(label: label, reason: "\(type) backup without backup-prior")
        }
        let error = (object["backup-error"] as? Bool) ?? false
        func segment(_ key: String) throws -> WALSegment? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            guard let text = value as? String, let parsed = WALSegment.parse(text) else {
                throw InfoError.badEntry(label: label, reason: "\(key) is not a WAL segment name")
            }
            return parsed
        }
        let archiveStart = try segment("backup-archive-start")
        let archiveStop = try segment("backup-archive-stop")
        if let archiveStart, let archiveStop,
            archiveStart.timeline != archiveStop.timeline || archiveStop < archiveStart
        {
            throw InfoError.badEntry(label: label, reason: "backup-archive-stop is before backup-archive-start")
        }
        return InfoEntry(
            label: label, type: type, start: Date(timeIntervalSince1970: start),
            stop: Date(timeIntervalSince1970: stop), prior: prior, error: error,
            archiveStart: archiveStart, archiveStop: archiveStop,
            dbID: (object["db-id"] as? NSNumber)?.intValue,
            archiveCopy: (object["option-archive-copy"] as? Bool) ?? false,
            size: (object["backup-info-size"] as? NSNumber).map { $0.int64Value })
    }
}
