import CCrypto
import Foundation

/// The DR kit: the copies of the subsystem CRs and Secrets that a restore applies (`dr-audit save` writes them;
/// the config names them as `baseline:`, `secret:` and `encryptionSecret:`). What is compared with the live cluster,
/// and how, lives here; reading files and the API server does not.
public enum Kit {
    /// Why a Secret is in the kit.
    public enum Purpose: String, Codable, Sendable, CaseIterable {
        case backup, encryption
        var words: String { self == .backup ? "backup credential" : "encryption" }
    }

    /// What the last scan of the live cluster read of one subsystem whose kit the config names: the CR's
    /// DR-relevant fields, and a salted digest of each Secret the kit holds a copy of (never a value).
    public struct LiveSubsystem: Codable, Hashable, Sendable {
        public var role: Role
        public var kind: String
        public var name: String
        /// `SubsystemCR.drFields` of the live CR.
        public var fields: [String: String]
        public var secrets: [LiveSecret]

        public init(role: Role, kind: String, name: String, fields: [String: String], secrets: [LiveSecret]) {
            self.role = role
            self.kind = kind
            self.name = name
            self.fields = fields
            self.secrets = secrets
        }
    }

    public struct LiveSecret: Codable, Hashable, Sendable {
        public var purpose: Purpose
        public var name: String
        /// Base64 of the random salt the digest was taken with; the saved copy is digested with the same salt.
        public var salt: String
        /// `Kit.digest` of the live Secret's data; nil when the Secret does not exist.
        public var digest: String?

        public init(purpose: Purpose, name: String, salt: String, digest: String?) {
            self.purpose = purpose
            self.name = name
            self.salt = salt
            self.digest = digest
        }
    }

    /// A Secret of the kit, reduced to its name and the digest of its data under the live copy's salt.
    public struct SavedSecret: Sendable {
        public var purpose: Purpose
        public var file: String
        public var name: String
        /// nil when there is no live copy to take the salt from.
        public var digest: String?

        public init(purpose: Purpose, file: String, name: String, digest: String?) {
            self.purpose = purpose
            self.file = file
            self.name = name
            self.digest = digest
        }
    }

    /// One subsystem's part of the kit.
    public struct Saved: Sendable {
        public var role: Role
        /// The saved CR (config `baseline:`) and its file name.
        public var cr: SubsystemCR?
        public var crFile: String?
        public var secrets: [SavedSecret]

        public init(role: Role, cr: SubsystemCR? = nil, crFile: String? = nil, secrets: [SavedSecret] = []) {
            self.role = role
            self.cr = cr
            self.crFile = crFile
            self.secrets = secrets
        }
    }

    /// The kit as the audit judges it.
    public struct State: Sendable {
        public var saved: [Saved]
        /// What the last successful scan of the live cluster read; nil without a live cluster (no comparison).
        public var live: [LiveSubsystem]?
        /// The modification time of the kit's oldest file, and that file: when the kit was last saved.
        public var savedAt: Date?
        public var oldestFile: String?
        /// Config `kit.maxAge`.
        public var maxAge: TimeInterval

        public init(
            saved: [Saved], live: [LiveSubsystem]?, savedAt: Date?, oldestFile: String?, maxAge: TimeInterval
        ) {
            self.saved = saved
            self.live = live
            self.savedAt = savedAt
            self.oldestFile = oldestFile
            self.maxAge = maxAge
        }
    }

    public static let defaultMaxAge: TimeInterval = 30 * 86400

    /// SHA-256, as `sha256:<hex>`, of the salt and then each key and value of a Secret's data in key order, each
    /// prefixed by its length (so no two different Secrets give the same input). The salt is random per scan,
    /// so a digest in the index cannot be looked up in a precomputed table.
    public static func digest(_ values: [String: Data], salt: Data) -> String {
        var input = salt
        func append(_ bytes: Data) {
            withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(bytes)
        }
        for key in values.keys.sorted() {
            append(Data(key.utf8))
            append(values[key]!)
        }
        var hash = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &hash, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "libcrypto's SHA-256 failed")
        return "sha256:" + hash.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// The names of the DR-relevant fields, in the order findings name them.
    public static let fieldOrder = [
        "kind", "name", "originalUID", "version", "endpoints", "backup.protocol", "backup.host", "backup.port",
        "backup.path", "backup.credentials", "backup.s3provider", "backup.backups3URIStyle", "backup.backupCerts",
        "schedule", "encryptionSecret",
    ]

    /// The fields whose values differ, in `fieldOrder`. Only fields both sides know are compared, so a snapshot
    /// taken by an older dr-audit does not make every new field look changed.
    public static func changedFields(saved: [String: String], live: [String: String]) -> [String] {
        let known = fieldOrder + Set(saved.keys).union(live.keys).subtracting(fieldOrder).sorted()
        return known.filter { key in
            guard let a = saved[key], let b = live[key] else { return false }
            return a != b
        }
    }

    /// `DR_KIT_STALE` for each saved CR or Secret that no longer matches what the last scan read, and
    /// `DR_KIT_OLD` when the kit was saved longer than `maxAge` ago.
    public static func findings(_ state: State, now: Date) -> [Finding] {
        var findings: [Finding] = []
        for saved in state.saved {
            guard let live = state.live?.first(where: { $0.role == saved.role }) else { continue }
            let liveSubject = "\(live.kind)/\(live.name)"
            if let cr = saved.cr {
                let savedFields = cr.drFields
                let changed = changedFields(saved: savedFields, live: live.fields)
                if !changed.isEmpty {
                    let detail = changed.map {
                        "\($0) (saved \(show(savedFields[$0]!)), live \(show(live.fields[$0]!)))"
                    }
                    findings.append(
                        Finding(
                            "DR_KIT_STALE", .warn, liveSubject,
                            "the saved \(saved.role.rawValue) CR\(saved.crFile.map { " \($0)" } ?? "") differs from the live \(liveSubject) in \(detail.joined(separator: ", ")); run dr-audit save"
                        ))
                }
            }
            for secret in saved.secrets {
                guard let current = live.secrets.first(where: { $0.purpose == secret.purpose }) else { continue }
                let what =
                    "the saved \(saved.role.rawValue) \(secret.purpose.words) Secret \(secret.name) (\(secret.file))"
                let problem: String?
                if current.name != secret.name {
                    problem = "\(liveSubject) now names the Secret \(current.name)"
                } else if current.digest == nil {
                    problem = "the Secret no longer exists in the cluster"
                } else if current.digest != secret.digest {
                    problem = "the live Secret's data changed"
                } else {
                    problem = nil
                }
                if let problem {
                    findings.append(
                        Finding("DR_KIT_STALE", .warn, secret.name, "\(what) is stale: \(problem); run dr-audit save"))
                }
            }
        }
        if let savedAt = state.savedAt, now.timeIntervalSince(savedAt) > state.maxAge {
            findings.append(
                Finding(
                    "DR_KIT_OLD", .info, state.oldestFile ?? "kit",
                    "the DR kit was saved \(DurationText.format(now.timeIntervalSince(savedAt))) ago (\(UTC.rfc3339(savedAt))\(state.oldestFile.map { ", \($0)" } ?? "")), over kit.maxAge \(DurationText.format(state.maxAge)); run dr-audit save to refresh it"
                ))
        }
        return findings
    }

    static func show(_ value: String) -> String { value.isEmpty ? "unset" : "'\(value)'" }
}

extension SubsystemCR {
    /// What the DR procedure depends on, field by field, as text: the kit comparison's and `save`'s diff.
    public var drFields: [String: String] {
        [
            "kind": kind, "name": name, "originalUID": identity ?? "", "version": version ?? "",
            "endpoints": endpoints.sorted().joined(separator: ", "),
            "backup.protocol": backup.protocol, "backup.host": backup.host ?? "",
            "backup.port": backup.port.map(String.init) ?? "", "backup.path": backup.path ?? "",
            "backup.credentials": backup.credentials ?? "", "backup.s3provider": backup.s3Provider ?? "",
            "backup.backups3URIStyle": backup.uriStyle ?? "", "backup.backupCerts": backup.backupCerts ?? "",
            // '' (no scheduled backups) and no schedule key (the operator's default) are different settings.
            "schedule": backup.schedule.map { $0.isEmpty ? "''" : $0 } ?? "",
            "encryptionSecret": encryptionSecretName ?? "",
        ]
    }
}
