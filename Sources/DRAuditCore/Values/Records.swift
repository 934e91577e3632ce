import Foundation

/// Which backup target a thing belongs to.
public enum Role: String, Codable, Sendable, CaseIterable {
    case portal, management
}

/// One object on a backup target, as listed. `key` is relative to the target's root, `/`-separated.
public struct StorageObject: Hashable, Codable, Sendable {
    public var key: String
    public var size: Int64
    public var mtime: Date?
    /// Set when the entry is not a regular file (a link, FIFO, socket or device): indexed, never followed or read.
    public var special: SpecialFile?

    public init(key: String, size: Int64, mtime: Date?, special: SpecialFile? = nil) {
        self.key = key
        self.size = size
        self.mtime = mtime
        self.special = special
    }

    public var fileName: Substring {
        guard let slash = key.utf8.lastIndex(of: UInt8(ascii: "/")) else { return Substring(key) }
        return key[key.utf8.index(after: slash)...]
    }
}

/// What an object is, by its name and place. Stored in the index as the raw value.
public enum ObjectKind: String, Codable, Sendable, CaseIterable {
    case portalSystem = "portal-system"
    case portalSite = "portal-site"
    case pgbackrestInfo = "pgbackrest-info"
    case pgbackrestManifest = "pgbackrest-manifest"
    case pgbackrestData = "pgbackrest-data"
    /// archive.info, timeline history, backup label and partial segment files of a pgBackRest archive.
    case pgbackrestArchive = "pgbackrest-archive"
    /// A WAL segment in a pgBackRest archive.
    case pgbackrestWAL = "pgbackrest-wal"
    case barmanInfo = "barman-info"
    case barmanData = "barman-data"
    /// A WAL segment in a barman-cloud archive.
    case barmanWAL = "barman-wal"
    /// Timeline history, backup label and partial segment files of a barman-cloud archive.
    case barmanArchive = "barman-archive"
    case unrecognized

    public var isWALSegment: Bool { self == .pgbackrestWAL || self == .barmanWAL }
}

/// A portal backup file: the system backup or one site's backup, written by one scheduled run.
public struct PortalBackupFile: Hashable, Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case system, site }
    public var key: String
    public var fileName: String
    public var kind: Kind
    /// The site's identity: `<portal-web-host>@<porg>@<catalog>` or the custom URL with `/` as `@`.
    public var site: String?
    public var time: Date
    public var size: Int64

    public init(key: String, fileName: String, kind: Kind, site: String?, time: Date, size: Int64) {
        self.key = key
        self.fileName = fileName
        self.kind = kind
        self.site = site
        self.time = time
        self.size = size
    }
}

/// A management database backup (a pgBackRest label or a barman-cloud backup).
public struct ManagementBackup: Hashable, Codable, Sendable {
    public enum Format: String, Codable, Sendable { case pgbackrest, barman }
    public enum Status: String, Codable, Sendable {
        /// Finished and whole on the storage (its chain is judged separately).
        case complete
        /// The tool recorded an error, or barman says FAILED.
        case failed
        /// Present only in part: no manifest, not listed in backup.info, still running, empty metadata.
        case incomplete
    }

    /// pgBackRest label, or `<serverName>/<backupId>` for barman-cloud.
    public var id: String
    public var format: Format
    /// `full`, `diff` or `incr`.
    public var type: String
    public var start: Date
    public var stop: Date?
    /// The label this one builds on (pgBackRest diff/incr).
    public var prior: String?
    public var status: Status
    /// Why it is not complete, for people.
    public var detail: String?
    /// Where its metadata lives (backup.info), for messages.
    public var infoKey: String?
    /// The WAL it needs to be consistent, when its metadata names it.
    public var wal: WALRange?
    /// pgBackRest `option-archive-copy`: the backup holds its own WAL, so the archive need not.
    public var archiveCopy: Bool?
    /// How big it is, for the size-drop rule: pgBackRest `backup-info-size` (the database's size), barman-cloud
    /// `size` when recorded, else the size of its data tar.
    public var size: Int64?

    public init(
        id: String, format: Format, type: String, start: Date, stop: Date?, prior: String?,
        status: Status, detail: String? = nil, infoKey: String? = nil, size: Int64? = nil
    ) {
        self.id = id
        self.format = format
        self.type = type
        self.start = start
        self.stop = stop
        self.prior = prior
        self.status = status
        self.detail = detail
        self.infoKey = infoKey
        self.size = size
    }

    /// The point in time a restore of this backup recovers to: its end, when known.
    public var time: Date { stop ?? start }
}

/// The WAL segments a backup needs replayed to be consistent, and the archive they belong in.
public struct WALRange: Hashable, Codable, Sendable {
    /// pgBackRest `…/archive/<stanza>/<archive-id>`, barman-cloud `<server>/wals`; nil when the metadata does not
    /// say which archive (then the range cannot be checked).
    public var archive: String?
    public var start: WALSegment
    public var stop: WALSegment

    public init(archive: String?, start: WALSegment, stop: WALSegment) {
        self.archive = archive
        self.start = start
        self.stop = stop
    }

    public var timeline: UInt32 { start.timeline }
}

/// An object whose name no parser recognised. Kept and reported, never dropped.
public struct UnrecognizedObject: Hashable, Codable, Sendable {
    public var role: Role
    public var key: String
    public var size: Int64
    public var special: SpecialFile?
    public init(role: Role, key: String, size: Int64, special: SpecialFile? = nil) {
        self.role = role
        self.key = key
        self.size = size
        self.special = special
    }
}
