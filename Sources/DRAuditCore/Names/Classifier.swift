import Foundation

/// Decides what each listed object is, and builds backup records from the objects and the
/// metadata files the scanner read for it. Pure: the scanner does the reading.
public enum Classifier {
    /// Raised whenever a name is judged differently than before (2: WAL segments and archive files, host-only site
    /// names), so that the index re-judges what an older version stored.
    public static let version = 2

    /// A link, FIFO, socket or device is never a backup, whatever its name; but pgBackRest's own `latest` link to
    /// the newest backup's folder is part of its repository.
    public static func classify(_ object: StorageObject, role: Role) -> ObjectKind {
        switch object.special {
        case nil:
            return classify(object.key, role: role)
        case .symlink?, .danglingSymlink?:
            guard role == .management, object.fileName == "latest" else { return .unrecognized }
            return classify(object.key, role: role) == .pgbackrestData ? .pgbackrestData : .unrecognized
        default:
            return .unrecognized
        }
    }

    public static func classify(_ key: String, role: Role) -> ObjectKind {
        // A name that is not UTF-8 (escaped in its key) is no tool's backup name.
        if RawName.hasInvalidBytes(key) { return .unrecognized }
        switch role {
        case .portal:
            let name = StorageObject(key: key, size: 0, mtime: nil).fileName
            guard let parsed = PortalFileName.parse(String(name)) else { return .unrecognized }
            return parsed.kind == .system ? .portalSystem : .portalSite
        case .management:
            if let wal = walPlace(key) { return wal.kind }
            let parts = key.split(separator: "/", omittingEmptySubsequences: false)
            guard let name = parts.last, !name.isEmpty else { return .unrecognized }
            if let place = pgBackRestPlace(parts) { return place.kind }
            if let place = barmanPlace(parts) { return place.kind }
            return .unrecognized
        }
    }

    /// Keys whose contents the scanner must read (small metadata files).
    public static func metadataKeys(_ objects: [(object: StorageObject, kind: ObjectKind)]) -> [String] {
        objects.filter { ($0.kind == .pgbackrestInfo || $0.kind == .barmanInfo) && $0.object.size > 0 }.map(
            \.object.key)
    }

    // MARK: - Places in the management layouts

    struct PgBackRestPlace {
        var repo: String  // everything before `backup/<stanza>`
        var stanza: String
        var label: String?  // set for objects inside a backup's folder
        var kind: ObjectKind
    }

    static func pgBackRestPlace(_ parts: [Substring]) -> PgBackRestPlace? {
        for i in parts.indices where parts[i] == "backup" || parts[i] == "archive" {
            guard parts.count >= i + 3, !parts[i + 1].isEmpty else { continue }
            let repo = parts[..<i].joined(separator: "/")
            let stanza = String(parts[i + 1])
            let third = String(parts[i + 2])
            if parts[i] == "archive" {
                // Segments, history and label files are placed by `walPlace`; here only archive.info is left.
                guard parts.count == i + 3, third == "archive.info" || third == "archive.info.copy" else { continue }
                return PgBackRestPlace(repo: repo, stanza: stanza, label: nil, kind: .pgbackrestArchive)
            }
            if parts.count == i + 3, third == "backup.info" || third == "backup.info.copy" {
                return PgBackRestPlace(repo: repo, stanza: stanza, label: nil, kind: .pgbackrestInfo)
            }
            // `latest` is pgBackRest's link to the newest backup's folder.
            if third == "backup.history" && parts.count > i + 3 || third == "latest" && parts.count == i + 3 {
                return PgBackRestPlace(repo: repo, stanza: stanza, label: nil, kind: .pgbackrestData)
            }
            guard parts.count > i + 3, PgBackRest.parseLabel(third) != nil else { continue }
            let isManifest =
                parts.count == i + 4 && (parts[i + 3] == "backup.manifest" || parts[i + 3] == "backup.manifest.copy")
            return PgBackRestPlace(
                repo: repo, stanza: stanza, label: third, kind: isManifest ? .pgbackrestManifest : .pgbackrestData)
        }
        return nil
    }

    struct BarmanPlace {
        var server: String
        var backupID: String?
        var kind: ObjectKind
    }

    static func barmanPlace(_ parts: [Substring]) -> BarmanPlace? {
        for j in parts.indices where j >= 1 && parts[j] == "base" {
            let serverPath = parts[..<j].joined(separator: "/")
            guard parts[j] == "base", parts.count >= j + 3, Barman.parseBackupID(parts[j + 1]) != nil else { continue }
            let isInfo = parts.count == j + 3 && parts[j + 2] == "backup.info"
            return BarmanPlace(
                server: serverPath, backupID: String(parts[j + 1]), kind: isInfo ? .barmanInfo : .barmanData)
        }
        return nil
    }

    /// Where a WAL archive file sits: pgBackRest `…/archive/<stanza>/<archive-id>/<first 16 of the name>/<file>`
    /// (timeline history files directly in `<archive-id>/`), barman-cloud `<server>/wals/<first 16>/<file>` (history in
    /// `wals/`). `archive` is the key up to the archive's folder, which identifies it.
    public struct WALPlace: Hashable, Sendable {
        public var kind: ObjectKind
        /// The start of the key (no copy of it).
        public var archive: Substring
        public var file: WALFileName
    }

    /// On the key's bytes, without splitting or copying it: a busy archive holds a million segments.
    public static func walPlace(_ key: String) -> WALPlace? {
        var copy = key
        guard let (kind, archiveLength, file) = copy.withUTF8({ walPlace(bytes: $0) }) else { return nil }
        let end = key.utf8.index(key.utf8.startIndex, offsetBy: archiveLength)
        return WALPlace(kind: kind, archive: key[..<end], file: file)
    }

    private static func walPlace(bytes b: UnsafeBufferPointer<UInt8>) -> (ObjectKind, Int, WALFileName)? {
        let slash = UInt8(ascii: "/")
        func previousSlash(before end: Int) -> Int {
            var i = end - 1
            while i >= 0, b[i] != slash { i -= 1 }
            return i
        }
        func part(_ from: Int, _ to: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[from..<to]) }
        func equal(_ p: UnsafeBufferPointer<UInt8>, _ text: StaticString) -> Bool {
            p.count == text.utf8CodeUnitCount && (0..<p.count).allSatisfy { p[$0] == text.utf8Start[$0] }
        }
        /// `<stanza>/<archive-id>` under `archive`, ending at `idEnd` (pgBackRest), with the archive id's start.
        func isPgBackRestArchive(idStart: Int, idEnd: Int) -> Bool {
            guard isArchiveID(part(idStart, idEnd)), idStart >= 2 else { return false }
            let stanzaStart = previousSlash(before: idStart - 1) + 1
            guard stanzaStart < idStart - 1, stanzaStart >= 1 else { return false }
            let archiveStart = previousSlash(before: stanzaStart - 1) + 1
            return equal(part(archiveStart, stanzaStart - 1), "archive")
        }

        let nameStart = previousSlash(before: b.count) + 1
        guard nameStart >= 1, nameStart < b.count else { return nil }
        let parentStart = previousSlash(before: nameStart - 1) + 1
        let parent = part(parentStart, nameStart - 1)
        let name = part(nameStart, b.count)
        // In a segment folder: the folder is the name's first 16 characters.
        if parent.count == 16, name.count >= 24, (0..<16).allSatisfy({ parent[$0] == name[$0] }), parentStart >= 1 {
            let grandStart = previousSlash(before: parentStart - 1) + 1
            let grand = part(grandStart, parentStart - 1)
            if equal(grand, "wals"), grandStart >= 2 {
                guard let file = WALFileName.parse(name, withChecksum: false), file.kind != .history else { return nil }
                return (file.kind == .segment ? .barmanWAL : .barmanArchive, parentStart - 1, file)
            }
            if isPgBackRestArchive(idStart: grandStart, idEnd: parentStart - 1) {
                guard let file = WALFileName.parse(name, withChecksum: true), file.kind != .history else { return nil }
                return (file.kind == .segment ? .pgbackrestWAL : .pgbackrestArchive, parentStart - 1, file)
            }
            return nil
        }
        // Timeline history files sit in the archive's own folder.
        if equal(parent, "wals"), parentStart >= 2 {
            guard let file = WALFileName.parse(name, withChecksum: false), file.kind == .history else { return nil }
            return (.barmanArchive, nameStart - 1, file)
        }
        if isPgBackRestArchive(idStart: parentStart, idEnd: nameStart - 1) {
            guard let file = WALFileName.parse(name, withChecksum: false), file.kind == .history else { return nil }
            return (.pgbackrestArchive, nameStart - 1, file)
        }
        return nil
    }

    /// pgBackRest archive ids: `<PostgreSQL version>-<db-id>`, e.g. `12-1`, `9.6-2`.
    static func isArchiveID(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let dash = p.firstIndex(of: UInt8(ascii: "-")), dash > 0, dash < p.count - 1 else { return false }
        let isDigit = { (c: UInt8) in c >= 48 && c <= 57 }
        return p[..<dash].allSatisfy { isDigit($0) || $0 == UInt8(ascii: ".") } && p[(dash + 1)...].allSatisfy(isDigit)
    }

    // MARK: - Records

    public static func portalFile(_ object: StorageObject) -> PortalBackupFile? {
        guard object.special == nil, !RawName.hasInvalidBytes(object.key) else { return nil }
        let name = String(object.fileName)
        guard let parsed = PortalFileName.parse(name) else { return nil }
        return PortalBackupFile(
            key: object.key, fileName: name, kind: parsed.kind, site: parsed.site,
            time: parsed.time, size: object.size)
    }

    /// Management backups from the objects of a management target and the text of its metadata files.
    /// A metadata file missing from `contents` was not readable; its backups are reported incomplete.
    public static func managementBackups(
        _ objects: [(object: StorageObject, kind: ObjectKind)],
        contents: [String: String]
    ) -> [ManagementBackup] {
        pgBackRestBackups(objects, contents: contents) + barmanBackups(objects, contents: contents)
    }

    private struct StanzaKey: Hashable {
        var repo: String
        var stanza: String
    }

    private static func pgBackRestBackups(
        _ objects: [(object: StorageObject, kind: ObjectKind)],
        contents: [String: String]
    ) -> [ManagementBackup] {
        var infoKeys: [StanzaKey: [String]] = [:]
        var manifests: [StanzaKey: [String: StorageObject]] = [:]
        var labelsSeen: [StanzaKey: Set<String>] = [:]
        var archives: [StanzaKey: Set<String>] = [:]
        for (object, kind) in objects where kind == .pgbackrestWAL || kind == .pgbackrestArchive {
            guard let place = walPlace(object.key) else { continue }
            // `<repo>/archive/<stanza>/<archive-id>`
            var parts = place.archive.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let stanza = String(parts[parts.count - 2])
            parts.removeLast(3)
            archives[StanzaKey(repo: parts.joined(separator: "/"), stanza: stanza), default: []].insert(
                String(place.archive))
        }
        for (object, kind) in objects where [.pgbackrestInfo, .pgbackrestManifest, .pgbackrestData].contains(kind) {
            let parts = object.key.split(separator: "/", omittingEmptySubsequences: false)
            guard let place = pgBackRestPlace(parts) else { continue }
            let stanza = StanzaKey(repo: place.repo, stanza: place.stanza)
            switch kind {
            case .pgbackrestInfo:
                infoKeys[stanza, default: []].append(object.key)
                labelsSeen[stanza, default: []].formUnion([])
            case .pgbackrestManifest:
                // Prefer backup.manifest over its .copy; a non-empty copy stands in for an empty original.
                let label = place.label!
                if let existing = manifests[stanza]?[label], existing.size > 0, object.key.hasSuffix(".copy") { break }
                manifests[stanza, default: [:]][label] = object
                labelsSeen[stanza, default: []].insert(label)
            default:
                if let label = place.label { labelsSeen[stanza, default: []].insert(label) }
            }
        }

        var result: [ManagementBackup] = []
        for stanza in labelsSeen.keys.sorted(by: { ($0.repo, $0.stanza) < ($1.repo, $1.stanza) }) {
            let keys = (infoKeys[stanza] ?? []).sorted()  // backup.info before backup.info.copy
            var info: PgBackRest.InfoFile?
            var infoProblem: String?
            var usedKey: String?
            for key in keys {
                guard let text = contents[key] else {
                    infoProblem = infoProblem ?? "\(key) is empty or unreadable"
                    continue
                }
                do {
                    info = try PgBackRest.parseInfoFile(text)
                    usedKey = key
                    break
                } catch {
                    infoProblem = infoProblem ?? "\(key): \(error)"
                }
            }
            if keys.isEmpty {
                infoProblem = "no backup.info in \(stanza.repo.isEmpty ? "" : stanza.repo + "/")backup/\(stanza.stanza)"
            }

            let entries = info?.entries
            let listed = Dictionary((entries ?? []).map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
            let archivePrefix = (stanza.repo.isEmpty ? "" : stanza.repo + "/") + "archive/\(stanza.stanza)/"
            let archivesSeen = (archives[stanza] ?? []).sorted()
            for entry in (entries ?? []) {
                var status: ManagementBackup.Status = entry.error ? .failed : .complete
                var detail: String? = entry.error ? "backup.info records backup-error" : nil
                if status == .complete {
                    if let manifest = manifests[stanza]?[entry.label] {
                        if manifest.size == 0 {
                            status = .incomplete
                            detail = "\(manifest.key) is empty"
                        }
                    } else {
                        status = .incomplete
                        detail = "backup.manifest missing for \(entry.label)"
                    }
                }
                var backup = ManagementBackup(
                    id: entry.label, format: .pgbackrest, type: entry.type, start: entry.start,
                    stop: entry.stop, prior: entry.prior, status: status, detail: detail,
                    infoKey: usedKey, size: entry.size)
                if let start = entry.archiveStart, let stop = entry.archiveStop {
                    // The archive of the database the backup was taken from; with no [db:history] entry for it, the
                    // stanza's only archive.
                    let archive =
                        info?.archiveID(entry).map { archivePrefix + $0 }
                        ?? (archivesSeen.count == 1 ? archivesSeen[0] : nil)
                    backup.wal = WALRange(archive: archive, start: start, stop: stop)
                }
                backup.archiveCopy = entry.archiveCopy
                result.append(backup)
            }
            for label in (labelsSeen[stanza] ?? []).sorted() where listed[label] == nil {
                guard let parsed = PgBackRest.parseLabel(label) else { continue }
                let why =
                    entries == nil
                    ? (infoProblem ?? "backup.info unreadable")
                    : "not listed in \(usedKey ?? "backup.info") (interrupted or expired)"
                result.append(
                    ManagementBackup(
                        id: label, format: .pgbackrest, type: parsed.type, start: parsed.time, stop: nil,
                        prior: parsed.type == "full" ? nil : parsed.fullLabel,
                        status: .incomplete, detail: why, infoKey: usedKey ?? keys.first))
            }
        }
        return result
    }

    private static func barmanBackups(
        _ objects: [(object: StorageObject, kind: ObjectKind)],
        contents: [String: String]
    ) -> [ManagementBackup] {
        var infos: [String: StorageObject] = [:]
        var hasData: Set<String> = []
        var dataSize: [String: Int64] = [:]
        for (object, kind) in objects where kind == .barmanInfo || kind == .barmanData {
            let parts = object.key.split(separator: "/", omittingEmptySubsequences: false)
            guard let place = barmanPlace(parts), let backupID = place.backupID else { continue }
            let id = "\(place.server)/\(backupID)"
            if kind == .barmanInfo {
                infos[id] = object
            } else if object.fileName.hasPrefix("data.tar") && object.size > 0 {
                hasData.insert(id)
                dataSize[id] = object.size
            }
        }
        return infos.keys.sorted().map { id in
            let object = infos[id]!
            let backupID = String(id.split(separator: "/").last!)
            let labelTime = Barman.parseBackupID(backupID)!
            guard let text = contents[object.key] else {
                return ManagementBackup(
                    id: id, format: .barman, type: "full", start: labelTime, stop: nil, prior: nil,
                    status: .incomplete, detail: "\(object.key) is empty or unreadable", infoKey: object.key)
            }
            let info: Barman.Info
            do { info = try Barman.parseInfo(text) } catch {
                return ManagementBackup(
                    id: id, format: .barman, type: "full", start: labelTime, stop: nil, prior: nil,
                    status: .incomplete, detail: "\(object.key): \(error)", infoKey: object.key)
            }
            var status: ManagementBackup.Status
            var detail: String?
            switch info.status {
            case "DONE":
                status = hasData.contains(id) ? .complete : .incomplete
                detail = hasData.contains(id) ? nil : "status DONE but no data.tar in base/\(backupID)"
            case "FAILED":
                status = .failed
                detail = "barman status FAILED" + (info.error.map { ": \($0)" } ?? "")
            default:
                status = .incomplete
                detail = "barman status \(info.status)"
            }
            var backup = ManagementBackup(
                id: id, format: .barman, type: "full", start: info.begin ?? labelTime,
                stop: info.end, prior: nil, status: status, detail: detail, infoKey: object.key,
                size: info.size ?? dataSize[id])
            if let begin = info.beginWAL, let end = info.endWAL {
                let server = id.split(separator: "/").dropLast().joined(separator: "/")
                backup.wal = WALRange(archive: server + "/wals", start: begin, stop: end)
            }
            return backup
        }
    }
}

/// Keeps, from a management listing, only the objects its backup records depend on: the metadata files,
/// and one data object per backup (proof that its folder holds data). A repository's thousands of data
/// files and WAL segments are not kept, so memory follows the number of backups, not of objects.
public struct ManagementEvidence: Sendable {
    public private(set) var objects: [(object: StorageObject, kind: ObjectKind)] = []
    private var backupsWithData: Set<String> = []
    private var archivesSeen: Set<Substring> = []

    public init() {}

    /// A WAL archive file: only the first of each archive is kept (which archives exist is what the records need).
    public mutating func add(_ object: StorageObject, _ place: Classifier.WALPlace) {
        guard archivesSeen.insert(place.archive).inserted else { return }
        objects.append((object, place.kind))
    }

    public mutating func add(_ object: StorageObject, _ kind: ObjectKind) {
        switch kind {
        case .pgbackrestInfo, .pgbackrestManifest, .barmanInfo:
            objects.append((object, kind))
        case .pgbackrestData:
            let parts = object.key.split(separator: "/", omittingEmptySubsequences: false)
            guard let place = Classifier.pgBackRestPlace(parts), let label = place.label,
                backupsWithData.insert("pgbackrest\u{0}\(place.repo)\u{0}\(place.stanza)\u{0}\(label)").inserted
            else { return }
            objects.append((object, kind))
        case .barmanData:
            let parts = object.key.split(separator: "/", omittingEmptySubsequences: false)
            guard object.fileName.hasPrefix("data.tar"), object.size > 0, let place = Classifier.barmanPlace(parts),
                let id = place.backupID, backupsWithData.insert("barman\u{0}\(place.server)\u{0}\(id)").inserted
            else { return }
            objects.append((object, kind))
        default:
            return
        }
    }
}
