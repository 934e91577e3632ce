import Foundation

/// Every present portal backup file of a target, compact: site names and folders are stored once, each file is
/// one 24-byte entry. A portal with many sites and a long retention has a million files, and pairing and the
/// audit must not hold a million strings for them. A file's name is not stored: the portal's names are canonical
/// (`PortalFileName.format` gives back exactly the name `parse` read), so it is rebuilt for the few files shown.
public struct PortalInventory: Sendable {
    public struct Entry: Hashable, Sendable {
        /// Seconds since 1970 (UTC), from the name.
        public var time: Int64
        /// Index into `sites`, or -1 for the system backup.
        public var site: Int32
        /// Index into `folders`.
        public var folder: Int32
        public var size: Int64

        public var isSystem: Bool { site < 0 }
    }

    public private(set) var sites: [String] = []
    /// Key prefixes before the file name (`""`, or `sub/dir/`).
    public private(set) var folders: [String] = []
    public private(set) var entries: [Entry] = []
    private var siteIDs: [String: Int32] = [:]
    private var folderIDs: [String: Int32] = [:]
    /// Kept by `sort()`; stale (shorter than `sites`) once a new site is appended.
    private var siteRank: [Int] = []
    private var storeSites: [Int32] = []
    private var storeFolders: [Int32] = []

    public init() {}

    public init(_ files: [PortalBackupFile]) {
        entries.reserveCapacity(files.count)
        for file in files {
            let folder = file.key.hasSuffix(file.fileName) ? String(file.key.dropLast(file.fileName.count)) : ""
            append(folder: folder, site: file.kind == .system ? nil : file.site, time: file.time, size: file.size)
        }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(folder: String, site: String?, time: Date, size: Int64) {
        append(folder: folder, site: site, seconds: Int64(time.timeIntervalSince1970.rounded(.down)), size: size)
    }

    public mutating func append(folder: String, site: String?, seconds: Int64, size: Int64) {
        entries.append(
            Entry(
                time: seconds, site: site.map { Self.intern($0, in: &sites, ids: &siteIDs) } ?? -1,
                folder: Self.intern(folder, in: &folders, ids: &folderIDs), size: size))
    }

    /// The same, for a store that numbers its sites and folders itself: `name` is asked only the first time an id
    /// is seen, so a million rows cost a million array lookups, not a million string hashes.
    public mutating func append(
        folderID: Int64, siteID: Int64?, seconds: Int64, size: Int64,
        name: (Int64) throws -> String
    ) rethrows {
        let folderIndex = try Self.intern(
            storeID: folderID, name: name, in: &folders, ids: &folderIDs, byStoreID: &storeFolders)
        let siteIndex =
            try siteID.map {
                try Self.intern(storeID: $0, name: name, in: &sites, ids: &siteIDs, byStoreID: &storeSites)
            } ?? -1
        entries.append(Entry(time: seconds, site: siteIndex, folder: folderIndex, size: size))
    }

    /// Store ids are small and dense (SQLite row ids), so they index an array.
    private static func intern(
        storeID: Int64, name: (Int64) throws -> String, in values: inout [String],
        ids: inout [String: Int32], byStoreID: inout [Int32]
    ) rethrows -> Int32 {
        let slot = Int(storeID)
        if slot >= 0, slot < byStoreID.count, byStoreID[slot] >= 0 { return byStoreID[slot] }
        let index = intern(try name(storeID), in: &values, ids: &ids)
        if slot >= 0, slot < 1 << 24 {
            if slot >= byStoreID.count { byStoreID += Array(repeating: -1, count: slot + 1 - byStoreID.count) }
            byStoreID[slot] = index
        }
        return index
    }

    private static func intern(_ value: String, in values: inout [String], ids: inout [String: Int32]) -> Int32 {
        if let id = ids[value] { return id }
        let id = Int32(values.count)
        values.append(value)
        ids[value] = id
        return id
    }

    public func siteName(_ entry: Entry) -> String? { entry.isSystem ? nil : sites[Int(entry.site)] }

    public func fileName(_ entry: Entry) -> String {
        PortalFileName.format(kind: entry.isSystem ? .system : .site, site: siteName(entry), time: date(entry))
    }

    public func date(_ entry: Entry) -> Date { Date(timeIntervalSince1970: TimeInterval(entry.time)) }

    public func file(_ index: Int) -> PortalBackupFile {
        let entry = entries[index]
        let name = fileName(entry)
        return PortalBackupFile(
            key: folders[Int(entry.folder)] + name, fileName: name, kind: entry.isSystem ? .system : .site,
            site: siteName(entry), time: date(entry), size: entry.size)
    }

    /// Every file, built out (small inventories and tests).
    public var files: [PortalBackupFile] { entries.indices.map(file) }

    /// Oldest first; files of one second by name, so a run's "latest" file is always the same one.
    /// In place: a copy of a million entries is memory the audit does not have to spend.
    public mutating func sort() {
        let rank = siteRanks()
        siteRank = rank
        let folders = self.folders
        func less(_ a: Entry, _ b: Entry) -> Bool {
            if a.time != b.time { return a.time < b.time }
            let ra = a.isSystem ? -1 : rank[Int(a.site)]
            let rb = b.isSystem ? -1 : rank[Int(b.site)]
            if ra != rb { return ra < rb }
            return folders[Int(a.folder)] < folders[Int(b.folder)]
        }
        if !zip(entries, entries.dropFirst()).allSatisfy({ !less($1, $0) }) { entries.sort(by: less) }
    }

    public func sorted() -> PortalInventory {
        var copy = self
        copy.sort()
        return copy
    }

    /// Each site's place in name order (the system backup's name sorts before every site's: `_` < letters).
    public func siteRanks() -> [Int] {
        if siteRank.count == sites.count { return siteRank }
        var rank = Array(repeating: 0, count: sites.count)
        for (position, id) in sites.indices.sorted(by: { sites[$0] < sites[$1] }).enumerated() { rank[id] = position }
        return rank
    }

    /// Without the files whose names are in `names` (any folder), e.g. those the cluster marks Failed.
    public func excluding(fileNames names: Set<String>) -> PortalInventory {
        let excluded = Set(names.compactMap(identity(ofFileName:)))
        guard !excluded.isEmpty else { return self }
        var copy = self
        copy.entries.removeAll { excluded.contains(Identity(time: $0.time, site: $0.site)) }
        return copy
    }

    /// A file's identity regardless of folder: its time and site.
    public struct Identity: Hashable, Sendable {
        public var time: Int64
        public var site: Int32
    }

    /// The identity a portal file name would have in this inventory; nil when it does not parse or names a site
    /// this inventory has never seen.
    public func identity(ofFileName name: String) -> Identity? {
        guard let parsed = PortalFileName.parse(name) else { return nil }
        let site: Int32
        if let name = parsed.site {
            guard let id = siteIDs[name] else { return nil }
            site = id
        } else {
            site = -1
        }
        return Identity(time: Int64(parsed.time.timeIntervalSince1970), site: site)
    }

    public func identity(_ entry: Entry) -> Identity { Identity(time: entry.time, site: entry.site) }
}
