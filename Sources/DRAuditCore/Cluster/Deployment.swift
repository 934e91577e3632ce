import Foundation

/// Where and how a subsystem writes its backups (`spec.portalBackup` / `spec.databaseBackup`).
public struct BackupSpec: Hashable, Codable, Sendable {
    public var `protocol`: String
    public var host: String?
    public var port: Int?
    public var path: String?
    public var credentials: String?
    /// The cron schedule. `""` when the CR sets `schedule: ''` (no scheduled backups, as restore-time CRs carry);
    /// nil when the section has no `schedule` key (the operator's default applies).
    public var schedule: String?
    public var s3Provider: String?
    public var uriStyle: String?
    public var backupCerts: String?

    public init(
        protocol: String, host: String? = nil, port: Int? = nil, path: String? = nil, credentials: String? = nil,
        schedule: String? = nil, s3Provider: String? = nil, uriStyle: String? = nil, backupCerts: String? = nil
    ) {
        self.protocol = `protocol`
        self.host = host
        self.port = port
        self.path = path
        self.credentials = credentials
        self.schedule = schedule
        self.s3Provider = s3Provider
        self.uriStyle = uriStyle
        self.backupCerts = backupCerts
    }

    /// `schedule: ''`: the CR asks for no scheduled backups.
    public var scheduleIsEmpty: Bool { schedule?.trimmingCharacters(in: .whitespaces).isEmpty == true }
}

/// A PortalCluster, ManagementCluster or APIConnectCluster CR, reduced to what DR depends on.
public struct SubsystemCR: Hashable, Sendable {
    public var kind: String
    public var name: String
    public var role: Role
    public var originalUID: String?
    public var backup: BackupSpec
    public var encryptionSecretName: String?
    /// `metadata.uid` of the object the CR was saved from, when the saved YAML carries it.
    public var uid: String?
    /// Host names of every `*Endpoint` section of the spec (the DR procedure needs them unchanged).
    public var endpoints: Set<String> = []
    /// `metadata.namespace`, when the saved YAML carries it.
    public var namespace: String?
    /// `spec.version` (the APIConnectCluster's for a top-level CR): the new install needs the same version.
    public var version: String?
    /// The portal web host names, in the CR's order: PortalCluster `spec.portalUIEndpoint.hosts[].name`,
    /// APIConnectCluster `spec.portal.portalUIEndpoint.hosts[].name`. Empty for management CRs.
    public var portalUIHosts: [String] = []

    /// The DR topic's name limits: subsystem CRs over 15 characters need originalUID; the
    /// APIConnectCluster name is limited to 10.
    public var nameLimit: Int { kind == "APIConnectCluster" ? 10 : 15 }

    public static func parse(_ document: DocumentNode, role: Role) throws -> SubsystemCR {
        guard let kind = document["kind"]?.string else { throw DocumentError("no kind") }
        let own = role == .portal ? "PortalCluster" : "ManagementCluster"
        guard kind == own || kind == "APIConnectCluster" else {
            throw DocumentError("kind is \(kind), expected \(own) or APIConnectCluster")
        }
        guard let name = document["metadata", "name"]?.string, !name.isEmpty else {
            throw DocumentError("no metadata.name")
        }
        let sub = role == .portal ? "portal" : "management"
        let sectionNames =
            role == .portal ? ["portalBackup", "databaseBackups"] : ["databaseBackup", "databaseBackups"]
        var candidates: [[String]] = sectionNames.map { ["spec", $0] }
        if kind == "APIConnectCluster" { candidates = sectionNames.map { ["spec", sub, $0] } + candidates }
        guard let (path, section) = candidates.lazy.compactMap({ p in document[p].map { (p, $0) } }).first,
            section.entries != nil
        else {
            throw DocumentError("no \(candidates.map { $0.joined(separator: ".") }.joined(separator: " or "))")
        }
        let where_ = path.joined(separator: ".")
        guard let proto = section["protocol"]?.string, !proto.isEmpty else {
            throw DocumentError("\(where_).protocol is missing")
        }
        var port: Int?
        if let text = section["port"]?.string {
            guard let p = Int(text), (1...65535).contains(p) else {
                throw DocumentError("\(where_).port '\(text)' is not a port")
            }
            port = p
        }
        let spec = BackupSpec(
            protocol: proto, host: section["host"]?.string, port: port, path: section["path"]?.string,
            credentials: section["credentials"]?.string, schedule: section["schedule"]?.string,
            s3Provider: section["s3provider"]?.string, uriStyle: section["backups3URIStyle"]?.string,
            backupCerts: section["backupCerts"]?.string)
        let uid =
            (kind == "APIConnectCluster" ? document["spec", sub, "originalUID"]?.string : nil)
            ?? document["spec", "originalUID"]?.string
        let enc =
            (kind == "APIConnectCluster" ? document["spec", sub, "encryptionSecret", "secretName"]?.string : nil)
            ?? document["spec", "encryptionSecret", "secretName"]?.string
            ?? document["spec", "encryptionSecret"]?.string
        var cr = SubsystemCR(
            kind: kind, name: name, role: role, originalUID: uid.flatMap { $0.isEmpty ? nil : $0 },
            backup: spec, encryptionSecretName: enc)
        cr.uid = document["metadata", "uid"]?.string
        cr.namespace = document["metadata", "namespace"]?.string
        let specs = [document["spec"], kind == "APIConnectCluster" ? document["spec", sub] : nil].compactMap {
            $0?.entries
        }
        for entries in specs {
            for (key, value) in entries where key.hasSuffix("Endpoint") {
                for host in value["hosts"]?.items ?? [] {
                    if let name = host["name"]?.string { cr.endpoints.insert(name) }
                }
            }
        }
        cr.version = document["spec", "version"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        if role == .portal {
            let ui =
                kind == "APIConnectCluster" ? ["spec", "portal", "portalUIEndpoint"] : ["spec", "portalUIEndpoint"]
            cr.portalUIHosts = (document[ui]?["hosts"]?.items ?? []).compactMap { $0["name"]?.string }
        }
        return cr
    }

    /// The UID of the backed-up subsystem this CR stands for: `spec.originalUID`, else its own `metadata.uid`.
    public var identity: String? { originalUID ?? uid }

    /// What changed from the CR as it was when the backups were taken (the saved original).
    public func changes(from baseline: SubsystemCR) -> [Finding] {
        let subject = "\(kind)/\(name)"
        var findings: [Finding] = []
        if name != baseline.name {
            findings.append(
                Finding(
                    "CR_NAME_CHANGED", .fail, subject,
                    "\(role.rawValue) CR is named \(name) but was \(baseline.name) when the backups were taken; the restore needs the same name"
                ))
        }
        if let expected = baseline.identity, identity != expected {
            findings.append(
                Finding(
                    "ORIGINAL_UID_CHANGED", .fail, subject,
                    "\(subject) spec.originalUID is \(originalUID ?? "unset") but the backed-up \(role.rawValue) has UID \(expected)"
                ))
        }
        if endpoints != baseline.endpoints {
            let added = endpoints.subtracting(baseline.endpoints).sorted()
            let removed = baseline.endpoints.subtracting(endpoints).sorted()
            findings.append(
                Finding(
                    "ENDPOINT_CHANGED", .fail, subject,
                    "\(subject) endpoints differ from the original: "
                        + (removed.isEmpty ? "" : "missing \(removed.joined(separator: ", "))")
                        + (removed.isEmpty || added.isEmpty ? "" : "; ")
                        + (added.isEmpty ? "" : "new \(added.joined(separator: ", "))")))
        }
        let now = [backup.protocol, backup.host ?? "", backup.port.map(String.init) ?? "", backup.path ?? ""]
        let then = [
            baseline.backup.protocol, baseline.backup.host ?? "", baseline.backup.port.map(String.init) ?? "",
            baseline.backup.path ?? "",
        ]
        if now != then {
            findings.append(
                Finding(
                    "BACKUP_TARGET_CHANGED", .fail, subject,
                    "\(subject) backs up to \(now.filter { !$0.isEmpty }.joined(separator: " ")) but the original used \(then.filter { !$0.isEmpty }.joined(separator: " ")); the backups taken before are not where the restore will look"
                ))
        }
        if let then = baseline.version, let version, version != then {
            findings.append(
                Finding(
                    "VERSION_CHANGED", .fail, subject,
                    "\(subject) is version \(version) but the backups were taken on \(then); the DR procedure restores onto the same version and fix pack"
                ))
        }
        return findings
    }
}

/// Credentials from a backup Secret. Never printed: its description is redacted.
public struct BackupCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var username: String?
    public var password: String?
    public var privateKey: String?

    public init(username: String? = nil, password: String? = nil, privateKey: String? = nil) {
        self.username = username
        self.password = password
        self.privateKey = privateKey
    }

    public var description: String {
        "BackupCredentials(username: \(username == nil ? "none" : "set"), secret: redacted)"
    }
    public var debugDescription: String { description }
}

/// A Kubernetes Secret as saved to a file.
public struct SavedSecret: Sendable {
    public var name: String
    /// Decoded `data` (and `stringData`) values.
    public var values: [String: Data]

    /// Parses a Secret; a value that is not base64 is an error naming the key (never the value).
    public static func parse(_ document: DocumentNode) throws -> SavedSecret {
        guard document["kind"]?.string == "Secret" else {
            throw DocumentError("kind is \(document["kind"]?.string ?? "missing"), expected Secret")
        }
        guard let name = document["metadata", "name"]?.string, !name.isEmpty else {
            throw DocumentError("no metadata.name")
        }
        var values: [String: Data] = [:]
        for (key, value) in document["data"]?.entries ?? [:] {
            guard let text = value.string else { throw DocumentError("data.\(key) is not a string") }
            let compact = text.filter { !$0.isWhitespace }
            guard let data = Data(base64Encoded: compact) else {
                throw DocumentError("data.\(key) is not valid base64")
            }
            values[key] = data
        }
        for (key, value) in document["stringData"]?.entries ?? [:] {
            guard let text = value.string else { throw DocumentError("stringData.\(key) is not a string") }
            values[key] = Data(text.utf8)
        }
        return SavedSecret(name: name, values: values)
    }

    /// The credentials a backup target needs: `username`/`password` (EDB object store: `key`/`keysecret`),
    /// or an SSH key (`ssh-privatekey` or `identity`).
    public func backupCredentials() throws -> BackupCredentials {
        func text(_ key: String) throws -> String? {
            guard let data = values[key] else { return nil }
            guard let s = String(data: data, encoding: .utf8) else { throw DocumentError("\(key) is not UTF-8 text") }
            return s.trimmingCharacters(in: .newlines)
        }
        let user = try text("username") ?? text("key")
        let pass = try text("password") ?? text("keysecret")
        let privateKey = try text("ssh-privatekey") ?? text("identity")
        guard let user, !user.isEmpty else { throw DocumentError("has no username (or key)") }
        guard (pass.map { !$0.isEmpty } ?? false) || privateKey != nil else {
            throw DocumentError("has no password (or keysecret, ssh-privatekey, identity)")
        }
        return BackupCredentials(username: user, password: pass, privateKey: privateKey)
    }
}
