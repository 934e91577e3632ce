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
        /// `size`, when recorded (barman-cloud 3.4 writes None).
        public var size: Int64? = nil
        /// The OIDs of `tablespaces` (each one's data is `<oid>.tar*`); nil when the line does not parse.
        public var tablespaceOIDs: [Int]? = []
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
            beginWAL: beginWAL, endWAL: endWAL,
            size: values["size"].flatMap { Int64($0) },
            tablespaceOIDs: values["tablespaces"].map(parseTablespaceOIDs) ?? [])
    }

    /// `tablespaces=` holds Python's repr of a list of (name, oid, location) tuples, or None:
    /// `[('tbs1', 16385, '/data/tbs1'), ("it's", 16386, '/x')]`. Returns the OIDs, or nil when it is neither.
    public static func parseTablespaceOIDs(_ text: String) -> [Int]? {
        let chars = Array(text.trimmingCharacters(in: .whitespaces).unicodeScalars)
        if chars.isEmpty || String(String.UnicodeScalarView(chars)) == "None" { return [] }
        var i = 0
        func skipSpaces() { while i < chars.count && chars[i] == " " { i += 1 } }
        func expect(_ c: Unicode.Scalar) -> Bool {
            skipSpaces()
            guard i < chars.count, chars[i] == c else { return false }
            i += 1
            return true
        }
        func skipString() -> Bool {
            skipSpaces()
            guard i < chars.count, chars[i] == "'" || chars[i] == "\"" else { return false }
            let quote = chars[i]
            i += 1
            while i < chars.count && chars[i] != quote { i += chars[i] == "\\" ? 2 : 1 }
            guard i < chars.count else { return false }
            i += 1
            return true
        }
        guard expect("[") else { return nil }
        var oids: [Int] = []
        if expect("]") { return oids }
        while true {
            guard expect("("), skipString(), expect(",") else { return nil }
            skipSpaces()
            var digits = ""
            while i < chars.count, ("0"..."9").contains(chars[i]), digits.count < 10 {
                digits.unicodeScalars.append(chars[i])
                i += 1
            }
            guard let oid = Int(digits), expect(","), skipString(), expect(")") else { return nil }
            oids.append(oid)
            if expect("]") { return oids }
            guard expect(",") else { return nil }
        }
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
