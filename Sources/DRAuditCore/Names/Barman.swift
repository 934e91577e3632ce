import Foundation

/// barman-cloud layout (EDB era): `<serverName>/base/<backupId>/backup.info` (key=value),
/// data in `data.tar[.gz]`, WAL in `<serverName>/wals/`.
public enum Barman {
    /// backupId `YYYYMMDDTHHMMSS`.
    public static func parseBackupID(_ id: some StringProtocol) -> Date? {
        let id = Substring(id)
        let halves = id.split(separator: "T", omittingEmptySubsequences: false)
        guard halves.count == 2 else { return nil }
        return UTC.date(ymd: halves[0], hms: halves[1])
    }

    public struct Info: Hashable, Sendable {
        public var backupID: String?
        public var status: String
        public var begin: Date?
        public var end: Date?
        public var error: String?
        /// The first and last WAL segment the backup needs to be consistent (`begin_wal`/`end_wal`).
        public var beginWAL: WALSegment?
        public var endWAL: WALSegment?
    }

    public enum InfoError: Error, Equatable, CustomStringConvertible {
        case missingStatus
        case notASegment(String)
        case endBeforeBegin
        public var description: String {
            switch self {
            case .missingStatus: return "no status= line"
            case .notASegment(let key): return "\(key) is not a WAL segment name"
            case .endBeforeBegin: return "end_wal is before begin_wal or on another timeline"
            }
        }
    }

    public static func parseInfo(_ text: String) throws -> Info {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq]).trimmingCharacters(in: .whitespaces)] =
                String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        }
        guard let status = values["status"], !status.isEmpty else { throw InfoError.missingStatus }
        func segment(_ key: String) throws -> WALSegment? {
            guard let text = values[key], text != "None", !text.isEmpty else { return nil }
            guard let parsed = WALSegment.parse(text) else { throw InfoError.notASegment(key) }
            return parsed
        }
        let beginWAL = try segment("begin_wal")
        let endWAL = try segment("end_wal")
        if let beginWAL, let endWAL, beginWAL.timeline != endWAL.timeline || endWAL < beginWAL {
            throw InfoError.endBeforeBegin
        }
        return Info(
            backupID: values["backup_id"], status: status.uppercased(),
            begin: values["begin_time"].flatMap(parseTime), end: values["end_time"].flatMap(parseTime),
            error: values["error"].flatMap { $0 == "None" || $0.isEmpty ? nil : $0 },
            beginWAL: beginWAL, endWAL: endWAL)
    }

    /// barman writes Python's `str(datetime)`: `2023-09-18 10:16:13.123456+00:00`; also accept RFC 3339.
    static func parseTime(_ text: String) -> Date? {
        if text == "None" || text.isEmpty { return nil }
        var iso = text.replacingOccurrences(of: " ", with: "T")
        if let dot = iso.firstIndex(of: "."),
            let zone = iso[dot...].firstIndex(where: { $0 == "+" || $0 == "-" || $0 == "Z" })
        {
            iso.removeSubrange(dot..<zone)  // whole seconds are enough for pairing
        }
        if !iso.hasSuffix("Z") && !iso.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" }) { iso += "Z" }
        return UTC.parseRFC3339(iso)
    }
}
