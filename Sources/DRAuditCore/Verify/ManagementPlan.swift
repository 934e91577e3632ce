import Foundation

/// A problem a management verification found, in the backup where it lives (for pgBackRest, the label whose
/// folder should hold the file: a file missing from a full backup breaks every incremental that references it).
public struct VerifyProblem: Hashable, Sendable {
    /// MGMT_FILE_MISSING, MGMT_CHECKSUM_MISMATCH or ARCHIVE_CORRUPT.
    public var code: String
    /// The backup the problem belongs to.
    public var backupID: String
    public var message: String

    public init(_ code: String, backupID: String, _ message: String) {
        self.code = code
        self.backupID = backupID
        self.message = message
    }
}

/// One object a verification reads end to end, and what its bytes must be.
public enum ObjectCheck: Hashable, Sendable {
    /// Stored pgBackRest file content: `slices` of the object (one slice for a plain file, many for a bundle), each
    /// decoded and compared with the manifest's size and SHA-1.
    case content(key: String, size: Int64, encoding: ContentChecker.Encoding, slices: [ContentSlice])
    /// A tar archive (barman-cloud `data.tar[.gz]`, a tablespace's `<oid>.tar[.gz]`): gzip and tar structure.
    case archive(key: String, size: Int64, format: ArchiveChecker.Format, backupID: String)
    /// One gzip stream, nothing inside it judged (e.g. an archived WAL segment, `…/<segment>-<sha1>.gz`).
    /// The seam for the consistency WAL: `ManagementPlan.appendingWAL` adds one per segment under `--deep`.
    case gzipStream(key: String, size: Int64, backupID: String)

    public var key: String {
        switch self {
        case .content(let key, _, _, _), .archive(let key, _, _, _), .gzipStream(let key, _, _): return key
        }
    }
    /// The object's size in the listing: what a whole read must come to.
    public var size: Int64 {
        switch self {
        case .content(_, let size, _, _), .archive(_, let size, _, _), .gzipStream(_, let size, _): return size
        }
    }
}

/// One pgBackRest file inside a stored object: at `offset`, `length` stored bytes (nil: to the end).
public struct ContentSlice: Hashable, Sendable {
    public var name: String
    public var backupID: String
    public var offset: Int64
    public var length: Int64?
    public var size: Int64
    /// SHA-1 of the content; nil for empty files (then only the size is compared).
    public var checksum: String?

    public init(name: String, backupID: String, offset: Int64 = 0, length: Int64?, size: Int64, checksum: String?) {
        self.name = name
        self.backupID = backupID
        self.offset = offset
        self.length = length
        self.size = size
        self.checksum = checksum
    }
}

/// What verifying one management backup means: problems found from the listing alone, the objects to read
/// (with `--deep`), and what was not checked and why. A plan is a list of object checks: later evidence (the
/// consistency WAL) appends its own.
public struct ManagementPlan: Sendable {
    public var backup: ManagementBackup
    public var deep: Bool
    /// Files (manifest entries, barman tars) the plan covers.
    public var files: Int
    /// Found from the listing: files missing, or of another size than recorded.
    public var problems: [VerifyProblem] = []
    /// Objects to read.
    public var checks: [ObjectCheck] = []
    /// What was not checked, and why.
    public var skipped: [String] = []
    /// barman: `backup.info`'s `size`, when recorded, to compare with the bytes of file data in the tars.
    public var expectedContentBytes: Int64?

    public init(backup: ManagementBackup, deep: Bool, files: Int = 0) {
        self.backup = backup
        self.deep = deep
        self.files = files
    }

    /// The backup's consistency WAL: every segment from its WAL start through its WAL stop, each with the key and
    /// size of its object in `listing` (a listing of the archive's segment folders; nil when the segment is not there
    /// or is empty). Empty when there is nothing to look for, with the reason in `skipped`.
    public mutating func consistencyWAL(in listing: [String: Int64]) -> [(name: String, key: String?, size: Int64?)] {
        if backup.archiveCopy == true {
            skipped.append("the backup holds its own WAL (option-archive-copy): the archive's was not looked for")
            return []
        }
        guard let range = backup.wal, let archive = range.archive else {
            skipped.append("its metadata names no WAL range or archive: the consistency WAL was not looked for")
            return []
        }
        var found: [UInt64: (key: String, size: Int64)] = [:]
        for (key, size) in listing where size > 0 {
            guard let place = Classifier.walPlace(key), place.kind.isWALSegment, place.archive == archive,
                place.file.segment.timeline == range.timeline
            else { continue }
            found[place.file.segment.number] = (key, size)
        }
        return (range.start.number...range.stop.number).map { n in
            let name = WALSegment(timeline: range.timeline, number: n).name
            return (name, found[n]?.key, found[n]?.size)
        }
    }

    /// The archive folders (`<archive>/<first 16 of the name>/`) that hold the backup's consistency WAL.
    public var consistencyWALFolders: [String] {
        guard backup.archiveCopy != true, let range = backup.wal, let archive = range.archive else { return [] }
        let logs = range.start.number / WALSegment.segmentsPerLog...range.stop.number / WALSegment.segmentsPerLog
        return logs.map { log in
            "\(archive)/\(WALSegment(timeline: range.timeline, number: log * WALSegment.segmentsPerLog).name.prefix(16))/"
        }
    }

    /// Appends the consistency WAL's segments (from the WAL inventory: each segment's key and listed size, nil when
    /// the archive lacks it): a missing one is MGMT_FILE_MISSING; with `--deep`, each present `.gz` segment's gzip
    /// stream is read.
    public func appendingWAL(_ segments: [(name: String, key: String?, size: Int64?)]) -> ManagementPlan {
        var plan = self
        for segment in segments {
            guard let key = segment.key, let size = segment.size else {
                plan.problems.append(
                    VerifyProblem(
                        "MGMT_FILE_MISSING", backupID: backup.id,
                        "consistency WAL segment \(segment.name) is not in the archive"))
                continue
            }
            if deep && key.hasSuffix(".gz") {
                plan.checks.append(.gzipStream(key: key, size: size, backupID: backup.id))
            }
        }
        plan.files += segments.count
        return plan
    }

    /// How many problems each result message names before "and N more".
    static let namedProblems = 3

    /// The results of the plan once its checks ran: one for the backup itself, and one for each other backup of
    /// its chain that holds a problem (so that backup, and every backup built on it, stops being restorable).
    public func results(
        _ outcomes: [CheckOutcome], checkedAt: Date, bytesRead: Int64
    ) -> [VerificationResult] {
        var problems = self.problems
        var contentBytes: Int64 = 0
        var tarContent: Int64 = 0
        for outcome in outcomes {
            problems += outcome.problems
            contentBytes += outcome.contentBytes
            tarContent += outcome.tarContentBytes
        }
        if let expected = expectedContentBytes, deep, problems.isEmpty, tarContent < expected {
            problems.append(
                VerifyProblem(
                    "MGMT_FILE_MISSING", backupID: backup.id,
                    "the tars hold \(tarContent) bytes of files; backup.info records size \(expected)"))
        }
        let skipped = self.skipped.isEmpty ? nil : self.skipped.joined(separator: "; ")
        func result(_ id: String, _ own: [VerifyProblem], note: String? = nil) -> VerificationResult {
            var result = VerificationResult(
                role: .management, subject: id, outcome: .ok, skipped: id == backup.id ? skipped : nil,
                checkedAt: checkedAt, deep: deep, bytesRead: id == backup.id ? bytesRead : 0,
                entries: id == backup.id ? files : nil, contentBytes: id == backup.id ? contentBytes : nil)
            if own.isEmpty {
                result.detail =
                    "\(files) \(files == 1 ? "file" : "files") present\(deep ? ", \(checks.count) objects read (\(contentBytes) bytes of content)" : "")"
                return result
            }
            result.outcome = .failed
            // The worst kind first: content that is wrong, then files that are missing.
            let rank = ["ARCHIVE_CORRUPT": 0, "MGMT_CHECKSUM_MISMATCH": 1, "MGMT_FILE_MISSING": 2]
            let sorted = own.sorted { (rank[$0.code] ?? 3, $0.message) < (rank[$1.code] ?? 3, $1.message) }
            result.code = sorted[0].code
            var text = sorted.prefix(Self.namedProblems).map(\.message).joined(separator: "; ")
            if sorted.count > Self.namedProblems { text += "; and \(sorted.count - Self.namedProblems) more" }
            result.detail = (note.map { $0 + ": " } ?? "") + text
            return result
        }
        let byBackup = Dictionary(grouping: problems, by: \.backupID)
        var results = [result(backup.id, problems)]
        for id in byBackup.keys.sorted() where id != backup.id {
            results.append(result(id, byBackup[id]!, note: "found verifying \(backup.id)"))
        }
        return results
    }
}

/// What reading one object of a plan found.
public struct CheckOutcome: Sendable {
    public var problems: [VerifyProblem] = []
    /// Bytes of content decoded and compared.
    public var contentBytes: Int64 = 0
    /// Archives: bytes of file data inside the tar.
    public var tarContentBytes: Int64 = 0
    public init(problems: [VerifyProblem] = [], contentBytes: Int64 = 0, tarContentBytes: Int64 = 0) {
        self.problems = problems
        self.contentBytes = contentBytes
        self.tarContentBytes = tarContentBytes
    }
}

extension ManagementPlan {
    /// The plan for a pgBackRest backup: every file of its manifest must be in the repository, in the folder of the
    /// backup its `reference` names (or its bundle), with the manifest's `repo-size`. With `deep`, every file is read
    /// and its decoded content compared with the manifest's size and SHA-1, where dr-audit can decode it.
    /// `stanzaFolder` is the key of `backup/<stanza>`; `listing` maps the keys present below it to their sizes.
    public static func pgBackRest(
        backup: ManagementBackup, manifest: PgBackRestManifest, stanzaFolder: String, listing: [String: Int64],
        deep: Bool
    ) -> ManagementPlan {
        var plan = ManagementPlan(backup: backup, deep: deep, files: manifest.files.count)
        let own = manifest.label ?? backup.id
        guard let ext = PgBackRestManifest.extensionFor(compressType: manifest.compressType) else {
            plan.problems.append(
                VerifyProblem(
                    "MGMT_FILE_MISSING", backupID: own,
                    "backup.manifest names compress-type \(manifest.compressType), unknown to pgBackRest 2.x; no file could be located"
                ))
            return plan
        }
        var encoding: ContentChecker.Encoding?
        if deep {
            if manifest.filesEncrypted {
                plan.skipped.append(
                    "the repository is encrypted (cipher-type is not none): file contents were not compared, only presence and sizes"
                )
            } else if manifest.compressType == "gz" {
                encoding = manifest.bundleRaw ? .rawDeflate : .gzip
            } else if manifest.compressType == "none" {
                encoding = ContentChecker.Encoding.none
            } else {
                plan.skipped.append(
                    "\(manifest.compressType) compression: file contents were not compared (dr-audit decodes gzip and uncompressed files), only presence and sizes"
                )
            }
        }
        struct Bundle {
            var backupID: String
            var end: Int64 = 0
            var slices: [ContentSlice] = []
        }
        var bundles: [String: Bundle] = [:]
        var blockIncremental = 0
        let prefix = stanzaFolder.isEmpty ? "" : stanzaFolder + "/"
        for file in manifest.files {
            let label = file.reference ?? own
            if let bundle = file.bundleID {
                let key = "\(prefix)\(label)/bundle/\(bundle)"
                let offset = file.bundleOffset ?? 0
                var entry = bundles[key] ?? Bundle(backupID: label)
                entry.end = max(entry.end, offset + (file.repoSize ?? 0))
                if file.blockIncremental {
                    blockIncremental += 1
                } else if let length = file.repoSize {
                    entry.slices.append(
                        ContentSlice(
                            name: file.name, backupID: label, offset: offset, length: length, size: file.size,
                            checksum: file.checksum))
                }
                bundles[key] = entry
                continue
            }
            let key = "\(prefix)\(label)/\(file.name)\(file.blockIncremental ? ".pgbi" : ext)"
            guard let size = listing[key] else {
                plan.problems.append(
                    VerifyProblem(
                        "MGMT_FILE_MISSING", backupID: label,
                        "\(file.name) is not in the repository (\(key))"))
                continue
            }
            if let recorded = file.repoSize, recorded != size {
                plan.problems.append(
                    VerifyProblem(
                        "MGMT_FILE_MISSING", backupID: label,
                        "\(key) is \(size) bytes; the manifest records repo-size \(recorded)"))
                continue
            }
            if file.blockIncremental {
                blockIncremental += 1
            } else if let encoding {
                plan.checks.append(
                    .content(
                        key: key, size: size, encoding: encoding,
                        slices: [
                            ContentSlice(
                                name: file.name, backupID: label, length: nil, size: file.size,
                                checksum: file.checksum)
                        ]))
            }
        }
        for key in bundles.keys.sorted() {
            let bundle = bundles[key]!
            guard let size = listing[key] else {
                plan.problems.append(
                    VerifyProblem(
                        "MGMT_FILE_MISSING", backupID: bundle.backupID,
                        "bundle \(key) is not in the repository (it holds \(bundle.slices.count) files)"))
                continue
            }
            if size < bundle.end {
                plan.problems.append(
                    VerifyProblem(
                        "MGMT_FILE_MISSING", backupID: bundle.backupID,
                        "bundle \(key) is \(size) bytes; its files reach to byte \(bundle.end)"))
                continue
            }
            if let encoding, !bundle.slices.isEmpty {
                plan.checks.append(
                    .content(
                        key: key, size: size, encoding: encoding, slices: bundle.slices.sorted { $0.offset < $1.offset }
                    ))
            }
        }
        if deep && encoding != nil && blockIncremental > 0 {
            plan.skipped.append(
                "\(blockIncremental) block-incremental files: their contents were not compared, only presence and sizes"
            )
        }
        return plan
    }

    /// The plan for a barman-cloud backup: `data.tar*` (and its `data_NNNN` parts) and every tablespace's
    /// `<oid>.tar*` present and not empty; with `deep`, every tar read: gzip and tar structure.
    /// `baseFolder` is the key of `<server>/base/<backupId>`; `listing` maps the keys below it to their sizes.
    public static func barman(
        backup: ManagementBackup, tablespaces: [Int], size: Int64?, baseFolder: String, listing: [String: Int64],
        deep: Bool
    ) -> ManagementPlan {
        var plan = ManagementPlan(backup: backup, deep: deep)
        let prefix = baseFolder.isEmpty ? "" : baseFolder + "/"
        var skippedFormats: Set<String> = []
        for base in ["data"] + tablespaces.map(String.init) {
            let parts = listing.keys.filter { key in
                guard key.hasPrefix(prefix) else { return false }
                let name = key.dropFirst(prefix.count)
                guard name.hasPrefix(base) else { return false }
                let rest = name.dropFirst(base.count)
                if rest.hasPrefix(".tar") { return true }
                // `data_0001.tar.gz`: the next part of a tar split at max-archive-size.
                guard rest.hasPrefix("_"), let dot = rest.firstIndex(of: ".") else { return false }
                return rest[rest.index(after: rest.startIndex)..<dot].allSatisfy(\.isNumber)
                    && rest[dot...].hasPrefix(".tar")
            }.sorted()
            let what = base == "data" ? "the data tar (data.tar*)" : "the tar of tablespace \(base) (\(base).tar*)"
            guard !parts.isEmpty else {
                plan.problems.append(
                    VerifyProblem("MGMT_FILE_MISSING", backupID: backup.id, "\(what) is not in \(baseFolder)"))
                continue
            }
            for key in parts {
                plan.files += 1
                let bytes = listing[key]!
                if bytes == 0 {
                    plan.problems.append(VerifyProblem("MGMT_FILE_MISSING", backupID: backup.id, "\(key) is empty"))
                    continue
                }
                guard deep else { continue }
                if key.hasSuffix(".tar.gz") {
                    plan.checks.append(.archive(key: key, size: bytes, format: .tarGzip, backupID: backup.id))
                } else if key.hasSuffix(".tar") {
                    plan.checks.append(.archive(key: key, size: bytes, format: .tar, backupID: backup.id))
                } else {
                    skippedFormats.insert(
                        String(key[key.range(of: ".tar")!.upperBound...]).trimmingCharacters(in: ["."]))
                }
            }
        }
        for format in skippedFormats.sorted() {
            plan.skipped.append(
                "\(format) compression: the tar was not read (dr-audit reads .tar and .tar.gz), only presence")
        }
        plan.expectedContentBytes = skippedFormats.isEmpty ? size : nil
        return plan
    }
}
