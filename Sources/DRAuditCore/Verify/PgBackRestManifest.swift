import Foundation

/// A pgBackRest `backup.manifest` (INI; every value JSON), as much of it as verification needs: the backup's
/// label and chain, how files are stored (compression, bundles, block incremental, encryption), and every file
/// with where it lives (`reference`: the backup that stored it), its sizes and its SHA-1.
public struct PgBackRestManifest: Sendable, Equatable {
    public struct File: Sendable, Equatable {
        /// The manifest name, e.g. `pg_data/base/1/1259`; also its path in the repository, before the extension.
        public var name: String
        /// The label of the backup that stored it; nil: this backup.
        public var reference: String?
        /// Original size.
        public var size: Int64
        /// Size in the repository (compressed), where recorded.
        public var repoSize: Int64?
        /// SHA-1 of the original content (absent for empty files).
        public var checksum: String?
        /// Bundled: the bundle's id and the file's offset in it (`bni`, `bno`).
        public var bundleID: Int64?
        public var bundleOffset: Int64?
        /// Stored as a block-incremental map (`bim`), not as the whole content.
        public var blockIncremental: Bool

        public init(
            name: String, reference: String? = nil, size: Int64, repoSize: Int64? = nil, checksum: String? = nil,
            bundleID: Int64? = nil, bundleOffset: Int64? = nil, blockIncremental: Bool = false
        ) {
            self.name = name
            self.reference = reference
            self.size = size
            self.repoSize = repoSize
            self.checksum = checksum
            self.bundleID = bundleID
            self.bundleOffset = bundleOffset
            self.blockIncremental = blockIncremental
        }
    }

    public var label: String?
    public var type: String?
    public var prior: String?
    /// `backup-reference`: this backup and the earlier ones its files may live in.
    public var references: [String] = []
    /// `backup-archive-start` / `-stop`: the WAL segments that make the backup consistent.
    public var archiveStart: String?
    public var archiveStop: String?
    /// `option-compress-type` (`gz`, `lz4`, `zst`, `bz2`, `none`); older manifests only say `option-compress`.
    public var compressType = "none"
    public var bundle = false
    /// Bundled files stored without compression headers (`backup-bundle-raw`).
    public var bundleRaw = false
    /// A `[cipher]` section: the files are encrypted with a passphrase from it.
    public var filesEncrypted = false
    public var files: [File] = []

    public init() {}

    /// The file extension pgBackRest gives stored files of this compression.
    public static func extensionFor(compressType: String) -> String? {
        switch compressType {
        case "none": return ""
        case "gz": return ".gz"
        case "lz4": return ".lz4"
        case "zst": return ".zst"
        case "bz2": return ".bz2"
        default: return nil
        }
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        /// The manifest itself is encrypted (a repository with `repo-cipher-type` set): OpenSSL's `Salted__` header.
        case encrypted
        case malformed(line: Int, reason: String)
        case empty
        public var description: String {
            switch self {
            case .encrypted: return "the manifest is encrypted (repo-cipher-type is not none)"
            case .malformed(let line, let reason): return "line \(line): \(reason)"
            case .empty: return "the manifest is empty"
            }
        }
    }

    public static func parse(_ text: String) throws -> PgBackRestManifest {
        let parser = Parser()
        try Data(text.utf8).withUnsafeBytes { try parser.feed($0) }
        return try parser.finish()
    }

    /// Reads a manifest as its bytes arrive, a line at a time.
    public final class Parser {
        private var manifest = PgBackRestManifest()
        private var line: [UInt8] = []
        private var lineNumber = 0
        private var section = ""
        private var sawBackup = false
        private var sawFiles = false
        private var compressFlag: Bool?
        private var sawCompressType = false
        private var start: [UInt8] = []
        /// Lines longer than this are not a manifest's.
        static let lineLimit = 1 << 20

        public init() {}

        public func feed(_ chunk: UnsafeRawBufferPointer) throws {
            if start.count < 8 {
                start.append(contentsOf: chunk.prefix(8 - start.count))
                if start.count >= 8 && start.elementsEqual("Salted__".utf8) { throw ParseError.encrypted }
            }
            var from = 0
            for (i, byte) in chunk.enumerated() where byte == 0x0a {
                line.append(contentsOf: chunk[from..<i])
                try take()
                from = i + 1
            }
            line.append(contentsOf: chunk[from...])
            if line.count > Self.lineLimit {
                throw ParseError.malformed(line: lineNumber + 1, reason: "a line longer than \(Self.lineLimit) bytes")
            }
        }

        public func finish() throws -> PgBackRestManifest {
            if start.elementsEqual("Salted__".utf8) { throw ParseError.encrypted }
            if !line.isEmpty { try take() }
            guard lineNumber > 0 else { throw ParseError.empty }
            guard sawBackup else { throw ParseError.malformed(line: lineNumber, reason: "no [backup] section") }
            guard sawFiles else { throw ParseError.malformed(line: lineNumber, reason: "no [target:file] section") }
            if !sawCompressType { manifest.compressType = compressFlag == true ? "gz" : "none" }
            return manifest
        }

        private func take() throws {
            lineNumber += 1
            defer { line.removeAll(keepingCapacity: true) }
            if line.last == 0x0d { line.removeLast() }
            guard let text = String(validating: line, as: UTF8.self) else {
                throw ParseError.malformed(line: lineNumber, reason: "not UTF-8 text")
            }
            if text.isEmpty || text.hasPrefix("#") { return }
            if text.hasPrefix("[") {
                guard text.hasSuffix("]"), text.count > 2 else {
                    throw ParseError.malformed(line: lineNumber, reason: "a section header without its ]")
                }
                section = String(text.dropFirst().dropLast())
                if section == "backup" { sawBackup = true }
                if section == "target:file" { sawFiles = true }
                if section == "cipher" { manifest.filesEncrypted = true }
                return
            }
            guard !section.isEmpty else {
                throw ParseError.malformed(line: lineNumber, reason: "a key outside any section")
            }
            switch section {
            case "target:file":
                try file(text)
            case "backup", "backup:option":
                let (key, value) = try split(text)
                try backupKey(key, value)
            case "cipher":
                manifest.filesEncrypted = true
            default:
                return
            }
        }

        /// pgBackRest's own rule: split at the first `=` after which the value is valid JSON (names may hold `=`).
        private func split(_ text: String) throws -> (String, Any) {
            var searchFrom = text.startIndex
            while let eq = text[searchFrom...].firstIndex(of: "=") {
                let value = text[text.index(after: eq)...]
                if let parsed = try? JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])
                {
                    let key = String(text[..<eq])
                    guard !key.isEmpty else { throw ParseError.malformed(line: lineNumber, reason: "an empty key") }
                    return (key, parsed)
                }
                searchFrom = text.index(after: eq)
            }
            throw ParseError.malformed(line: lineNumber, reason: "no key=JSON value")
        }

        private func backupKey(_ key: String, _ value: Any) throws {
            switch key {
            case "backup-label": manifest.label = value as? String
            case "backup-type": manifest.type = value as? String
            case "backup-prior": manifest.prior = value as? String
            case "backup-archive-start": manifest.archiveStart = value as? String
            case "backup-archive-stop": manifest.archiveStop = value as? String
            case "backup-reference":
                // The manifest writes a comma-separated string; backup.info a JSON list.
                if let text = value as? String {
                    manifest.references = text.split(separator: ",").map(String.init)
                } else if let list = value as? [String] {
                    manifest.references = list
                }
            case "backup-bundle": manifest.bundle = (value as? Bool) ?? false
            case "backup-bundle-raw": manifest.bundleRaw = (value as? Bool) ?? false
            case "option-compress-type":
                guard let type = value as? String else {
                    throw ParseError.malformed(line: lineNumber, reason: "option-compress-type is not a string")
                }
                manifest.compressType = type
                sawCompressType = true
            case "option-compress": compressFlag = value as? Bool
            default: return
            }
        }

        private func file(_ text: String) throws {
            let (name, value) = try split(text)
            guard let entry = value as? [String: Any] else {
                throw ParseError.malformed(line: lineNumber, reason: "file \(name): value is not a JSON object")
            }
            func integer(_ key: String) throws -> Int64? {
                guard let raw = entry[key] else { return nil }
                guard let number = raw as? NSNumber, number.doubleValue == Double(number.int64Value),
                    number.int64Value >= 0
                else {
                    throw ParseError.malformed(line: lineNumber, reason: "file \(name): \(key) is not a size")
                }
                return number.int64Value
            }
            guard let size = try integer("size") else {
                throw ParseError.malformed(line: lineNumber, reason: "file \(name) has no size")
            }
            var checksum = entry["checksum"] as? String
            if let c = checksum, c.count != 40 || !c.allSatisfy(\.isHexDigit) {
                throw ParseError.malformed(line: lineNumber, reason: "file \(name): checksum is not a SHA-1")
            }
            checksum = checksum?.lowercased()
            manifest.files.append(
                File(
                    name: name, reference: entry["reference"] as? String, size: size,
                    repoSize: try integer("repo-size"),
                    checksum: checksum, bundleID: try integer("bni"), bundleOffset: try integer("bno"),
                    blockIncremental: entry["bim"] != nil || entry["bi"] != nil))
        }
    }
}
