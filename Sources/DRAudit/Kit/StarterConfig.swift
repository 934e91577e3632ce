import DRAuditCore
import Foundation
import Yams

/// `dr-audit init`: a commented starter `dr-audit.yaml` for users without cluster access, filled from the CR and
/// Secret files given, or a template. The YAML is Yams' emitter's; comments are whole lines put before the key
/// they explain, which cannot change what the YAML says. The config parser checks the result before it is written.
public enum StarterConfig {
    public struct Options: Sendable {
        public var files: [URL]
        public var output: URL
        public var force: Bool
        public init(files: [URL], output: URL, force: Bool) {
            self.files = files
            self.output = output
            self.force = force
        }
    }

    /// Writes the starter config and returns what to tell the operator.
    public static func write(_ options: Options) throws -> [String] {
        let output = options.output.standardizedFileURL
        if FileManager.default.fileExists(atPath: output.path) && !options.force {
            throw DRAuditError("\(output.path) exists; give --force to replace it")
        }
        let (text, notes) = try render(options.files, output: output)
        try SecureFiles.write(
            [(output.lastPathComponent, Data(text.utf8))], into: output.deletingLastPathComponent(), mode: 0o644)
        return ["dr-audit init: wrote \(output.path)"] + notes.map { "  \($0)" }
            + ["Next: dr-audit scan --config \(output.path) && dr-audit audit --config \(output.path)"]
    }

    struct Found {
        var cr: [Role: (url: URL, cr: SubsystemCR)] = [:]
        var secrets: [(url: URL, name: String)] = []
    }

    /// The config text and notes about what was filled in and what is left to do.
    static func render(_ files: [URL], output: URL) throws -> (String, [String]) {
        var found = Found()
        for url in files.map(\.standardizedFileURL) {
            let document = try Documents.load(url, what: "init: file")
            let kind = document["kind"]?.string ?? "document without a kind"
            switch kind {
            case "Secret":
                let secret: SavedSecret
                do { secret = try SavedSecret.parse(document) } catch {
                    throw DRAuditError("init: Secret \(url.path): \(DRAuditError.oneLine(error))")
                }
                found.secrets.append((url, secret.name))
            case "PortalCluster", "ManagementCluster", "APIConnectCluster":
                let roles: [Role] =
                    kind == "APIConnectCluster"
                    ? [.portal, .management] : kind == "PortalCluster" ? [.portal] : [.management]
                for role in roles {
                    if let other = found.cr[role] {
                        throw DRAuditError(
                            "init: \(url.path) and \(other.url.path) are both \(role.rawValue) CRs; give one")
                    }
                    do { found.cr[role] = (url, try SubsystemCR.parse(document, role: role)) } catch {
                        throw DRAuditError("init: \(role.rawValue) CR \(url.path): \(DRAuditError.oneLine(error))")
                    }
                }
            default:
                throw DRAuditError(
                    "init: \(url.path) is a \(kind), not a PortalCluster, ManagementCluster, APIConnectCluster or Secret"
                )
            }
        }
        let folder = output.deletingLastPathComponent()
        func relative(_ url: URL) -> String {
            let prefix = folder.path.hasSuffix("/") ? folder.path : folder.path + "/"
            return url.path.hasPrefix(prefix) ? "./" + url.path.dropFirst(prefix.count) : url.path
        }
        var notes: [String] = []
        var used: Set<String> = []
        var root = Node.Mapping([]).node
        var comments: [String: [String]] = [:]
        YAMLTree.set(&root, ["database"], YAMLTree.string("./dr-audit.sqlite"))
        comments["database"] = ["The SQLite index dr-audit keeps (made on first use)."]
        let template = found.cr.isEmpty
        for role in Role.allCases {
            let key = role.rawValue
            let crFile = role == .portal ? "portal_cr.yaml" : "management_cr.yaml"
            guard template || found.cr[role] != nil else {
                notes.append("no \(key) CR given: the config has no \(key) section (add one with its cr: file)")
                continue
            }
            let cr = found.cr[role]
            YAMLTree.set(&root, [key, "cr"], YAMLTree.string(cr.map { relative($0.url) } ?? "./\(crFile)"))
            func secretPath(_ name: String?, placeholder: String, what: String) -> String? {
                if let name, let file = found.secrets.first(where: { $0.name == name }) {
                    used.insert(name)
                    return relative(file.url)
                }
                guard template || name != nil else { return nil }
                let file = name.map { "./\($0).yaml" } ?? placeholder
                notes.append(
                    name.map { "\(key).\(what): save the Secret \($0) to \(file) (kubectl get secret \($0) -o yaml)" }
                        ?? "\(key).\(what): save the Secret to \(file)")
                return file
            }
            let secret = secretPath(
                cr?.cr.backup.credentials,
                placeholder: role == .portal ? "./portal-backup-secret.yaml" : "./mgmt-backup-secret.yaml",
                what: "secret")
            YAMLTree.set(&root, [key, "secret"], secret.map(YAMLTree.string))
            let encryption = secretPath(
                cr?.cr.encryptionSecretName,
                placeholder: role == .portal ? "./portal_enc_key.yaml" : "./mgmt_enc_key.yaml", what: "encryptionSecret"
            )
            YAMLTree.set(&root, [key, "encryptionSecret"], encryption.map(YAMLTree.string))
            let kind = role == .portal ? "PortalCluster" : "ManagementCluster"
            let section = role == .portal ? "portalBackup" : "databaseBackup"
            comments[key] = [
                "",
                role == .portal
                    ? "The Developer Portal subsystem." : "The Management subsystem (its database backups).",
            ]
            comments["\(key).cr"] = [
                "The \(kind) (or APIConnectCluster) CR, YAML or JSON (kubectl get … -o yaml). Its spec.\(section)",
                "names the backup target (protocol, host, port, path) and the credentials Secret. With a live cluster",
                "below, leave cr out and the CR is read from the API server (crName: picks one of several).",
            ]
            comments["\(key).secret"] = [
                "The backup credentials Secret the CR's \(section).credentials names:",
                "username/password" + (role == .management ? " (EDB: key/keysecret)" : "") + ", or an SSH private key.",
            ]
            comments["\(key).encryptionSecret"] = [
                "The \(key) encryption Secret (spec.encryptionSecret.secretName) as saved: a restore applies it first."
            ]
            comments["\(key)/after"] =
                [
                    "Optional keys:",
                    "  baseline: ./\(key)_cr.original.yaml  the CR as saved when the backups were taken (dr-audit save writes it)",
                    "  target: {protocol: local, path: ./copy}  read a mounted or downloaded copy instead of the CR's target",
                    "  knownHosts: ~/.ssh/known_hosts  sftp: the server's host key (the default); or",
                    "  hostKeyFingerprint: SHA256:…  sftp: pin the host key as ssh-keygen -lf prints it",
                    "  endpoint: https://s3.example.com  objstore: replaces the CR's endpoint; caBundle: ./ca.pem  a private CA",
                    "  timeout: 30s  connect and per-operation timeout",
                ]
                + (role == .portal
                    ? ["  retiredSites: [host@porg@catalog]  sites deleted on purpose, never expected again"] : [])
        }
        if let unused = found.secrets.first(where: { !used.contains($0.name) }) {
            throw DRAuditError(
                "init: Secret \(unused.name) (\(unused.url.path)) is neither a backup credentials nor an encryption Secret the given CRs name"
            )
        }
        YAMLTree.set(&root, ["pairing", "tolerance"], YAMLTree.string("30m"))
        YAMLTree.set(&root, ["pairing", "rpo"], YAMLTree.string("26h"))
        comments["pairing"] = [
            "",
            "Optional: the backup CRs of the cluster, for the cross-check, from kubectl exports or the live API server:",
            "cluster:",
            "  portalBackups: ./portalbackups.json          kubectl get portalbackups -o json",
            "  managementBackups: ./managementbackups.json  kubectl get managementbackups -o json",
            "  # or the live API server instead (then cr:, secret: and encryptionSecret: may be left out):",
            "  kubeconfig: ~/.kube/config   context: prod   namespace: apic   (or inCluster: true in a pod)",
            "",
            "How backups pair:",
        ]
        comments["pairing.tolerance"] = ["A management backup and a portal run pair when this close (30s, 30m, 1h)."]
        comments["pairing.rpo"] = ["The newest restorable pair must be younger than this."]
        comments["pairing/after"] = [
            "runGap: 30m  a gap longer than this between portal files starts a new run",
            "pitr: auto  moments of a recovery window pair too (pgBackRest); off: backup points only",
        ]
        YAMLTree.set(&root, ["kit", "maxAge"], YAMLTree.string(DurationText.format(Kit.defaultMaxAge)))
        comments["kit"] = [""]
        comments["kit.maxAge"] = ["A DR kit (the baseline and Secret files) saved longer ago than this is DR_KIT_OLD."]

        let header = [
            "dr-audit configuration, written by dr-audit init (\(UTC.rfc3339(Date())))"
                + (found.cr.isEmpty
                    ? " as a template." : " from \(files.map { RestorePlan.q($0.lastPathComponent) }.joined(separator: ", "))."),
            "Every path is relative to this file. Unknown keys are errors. See the README's \"Config\" section.",
            "",
        ]
        let text = commented(try YAMLTree.emit(root), header: header, comments: comments)
        do {
            _ = try Config.parse(try Documents.parse(text, name: output.lastPathComponent), file: output)
        } catch {
            throw DRAuditError("init: the config would not be accepted: \(DRAuditError.oneLine(error))")
        }
        return (text, notes)
    }

    /// Puts comment lines before the mapping keys whose dotted path `comments` names, and `<path>/after` ones after
    /// the section's last line (an empty line stays empty). Keys are found by their indentation in the emitter's
    /// block style.
    static func commented(_ yaml: String, header: [String], comments: [String: [String]]) -> String {
        func block(_ lines: [String], indent: Int) -> String {
            lines.map {
                $0.isEmpty ? "\n" : String(repeating: " ", count: indent) + "# " + YAMLTree.commentText($0) + "\n"
            }.joined()
        }
        var out = block(header, indent: 0)
        var stack: [(indent: Int, key: String)] = []
        func pop() {
            let path = stack.map(\.key).joined(separator: ".")
            let indent = stack.removeLast().indent
            out += block(comments[path + "/after"] ?? [], indent: indent + 2)
        }
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
            let indent = line.prefix { $0 == " " }.count
            let rest = line.dropFirst(indent)
            if let colon = rest.firstIndex(of: ":"), rest[..<colon].allSatisfy({ $0.isLetter || $0.isNumber }),
                !rest[..<colon].isEmpty
            {
                while let last = stack.last, last.indent >= indent { pop() }
                let key = String(rest[..<colon])
                let path = (stack.map(\.key) + [key]).joined(separator: ".")
                stack.append((indent, key))
                out += block(comments[path] ?? [], indent: indent)
            }
            out += line + "\n"
        }
        while !stack.isEmpty { pop() }
        while out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
