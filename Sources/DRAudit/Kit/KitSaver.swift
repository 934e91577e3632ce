import DRAuditCore
import Foundation
import Yams

/// `dr-audit save`: writes the DR kit of the installation a config's `cluster:` section names, read from the live
/// API server: each subsystem CR as applyable YAML, the backup credential and encryption Secrets, and a
/// `dr-audit.yaml` that audits against them.
public enum KitSaver {
    public struct Options: Sendable {
        public var config: URL
        public var output: URL
        public var secrets: Bool
        public init(config: URL, output: URL, secrets: Bool) {
            self.config = config
            self.output = output
            self.secrets = secrets
        }
    }

    /// The config file the kit holds.
    public static let configName = "dr-audit.yaml"

    /// Saves the kit and returns what to tell the operator, line by line.
    public static func save(_ options: Options) throws -> [String] {
        let config = try Config.loadForSave(options.config)
        guard let cluster = config.cluster, cluster.isLive else {
            throw DRAuditError(
                "\(options.config.path): save reads the live cluster: set cluster.kubeconfig, context, namespace or inCluster"
            )
        }
        let folder = options.output.standardizedFileURL
        try checkFolderIsAKitOrNew(folder)
        let client = try KubeClient.make(for: cluster)
        var plan = try read(config, client: client, secrets: options.secrets)
        let kitConfig = try kitConfigText(config, plan: plan, folder: folder, secrets: options.secrets)
        plan.files.append(
            .init(
                name: configName, text: kitConfig, what: "the config that audits against this kit", change: { _ in nil }
            ))

        // Compare with what a previous save left in the folder, then write everything at once.
        var lines = ["dr-audit save: \(client.location) → \(folder.path)"]
        let tightened = try SecureFiles.prepareFolder(folder)
        if tightened { lines.append("  \(folder.path) was readable by others: made it 0700") }
        let width = plan.files.map(\.name.count).max() ?? 0
        for file in plan.files {
            let previous = folder.appendingPathComponent(file.name)
            let state: String
            if !FileManager.default.fileExists(atPath: previous.path) {
                state = "new"
            } else if let change = file.change(previous) {
                state = change
            } else {
                state = file.name == configName ? "replaced" : "unchanged since the last save"
            }
            lines.append("  \(file.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(file.what): \(state)")
        }
        try SecureFiles.write(plan.files.map { ($0.name, Data($0.text.utf8)) }, into: folder)
        // Files an earlier save wrote that this kit no longer holds (a renamed Secret, --no-secrets): left alone.
        let names = Set(plan.files.map(\.name))
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        where !names.contains(name)
            && (name.hasPrefix("secret-") || name.hasSuffix("_cr.yaml") || name == "apiconnectcluster.yaml")
        {
            plan.notes.append("\(name) is from an earlier save and no longer part of the kit: left in place")
        }
        lines += plan.notes.map { "  note: \($0)" }
        lines.append(
            options.secrets
                ? "Secrets are written 0600 in a 0700 folder: keep the folder off the cluster and out of version control."
                : "Secrets not written (--no-secrets): save the backup and encryption Secrets yourself; the audit reads them from the cluster."
        )
        lines.append(
            "Audit against it: dr-audit scan --config \(folder.appendingPathComponent(configName).path) && dr-audit audit --config \(folder.appendingPathComponent(configName).path)"
        )
        return lines
    }

    /// The first line of the kit's config: how a folder is known to hold a kit.
    static let configHeader = "# The DR kit's config, written by dr-audit save"

    /// Save replaces files by name: into a folder that holds other things (the operator's own config and CR
    /// copies, say) it would overwrite them. A folder is new, empty, or a kit an earlier save wrote.
    static func checkFolderIsAKitOrNew(_ folder: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw DRAuditError("\(folder.path) exists and is not a folder") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        guard !entries.isEmpty else { return }
        let config = folder.appendingPathComponent(configName)
        guard let data = FileManager.default.contents(atPath: config.path),
            String(decoding: data.prefix(configHeader.utf8.count), as: UTF8.self) == configHeader
        else {
            throw DRAuditError(
                "\(folder.path) is not empty and holds no kit an earlier dr-audit save wrote; give a new or empty --output folder"
            )
        }
    }

    // MARK: - Reading the installation

    struct File {
        var name: String
        var text: String
        var what: String
        /// What changed since the previous save's file (nil: nothing DR-relevant), never a Secret's value.
        var change: (URL) -> String?
    }

    struct Plan {
        var files: [File] = []
        var notes: [String] = []
        /// Per subsystem: the live CR's name (the kit config's `crName`) and the kit's files for it.
        var crNames: [Role: String] = [:]
        var baselines: [Role: String] = [:]
        var secretFiles: [Role: [Kit.Purpose: String]] = [:]
    }

    struct LiveCR {
        var role: Role
        var kind: String
        var name: String
        var node: Node
    }

    static func read(_ config: Config, client: KubeClient, secrets: Bool) throws -> Plan {
        var plan = Plan()
        let explicit = Role.allCases.filter { config.subsystem($0) != nil }
        var live: [LiveCR] = []
        for role in explicit.isEmpty ? Role.allCases : explicit {
            let found = try client.subsystemCRs(role, name: config.subsystem(role)?.crName)
            guard found.count == 1, let name = found[0]["metadata", "name"]?.string, let kind = found[0]["kind"]?.string
            else {
                if found.isEmpty && !explicit.contains(role) {
                    plan.notes.append("the namespace holds no \(role.rawValue) CR: \(role.rawValue) not saved")
                    continue
                }
                // The one-line errors `subsystemCR` gives for none or several.
                _ = try client.subsystemCR(role, name: config.subsystem(role)?.crName)
                throw DRAuditError("Kubernetes API \(client.endpoint.server): the \(role.rawValue) CR has no name")
            }
            live.append(LiveCR(role: role, kind: kind, name: name, node: try object(client, kind: kind, name: name)))
        }
        guard !live.isEmpty else {
            throw DRAuditError(
                "Kubernetes API \(client.endpoint.server): no PortalCluster, ManagementCluster or APIConnectCluster in namespace \(client.namespace)"
            )
        }
        // The top-level CR: found itself (no subsystem CR in the namespace), or the owner of a subsystem CR.
        var top: LiveCR? = live.first { $0.kind == "APIConnectCluster" }
        if top == nil {
            for cr in live {
                let owners = YAMLTree.get(cr.node, ["metadata", "ownerReferences"])?.sequence ?? []
                if let owner = owners.first(where: { $0.mapping?["kind"]?.string == "APIConnectCluster" }),
                    let name = owner.mapping?["name"]?.string
                {
                    top = LiveCR(
                        role: cr.role, kind: "APIConnectCluster", name: name,
                        node: try object(client, kind: "APIConnectCluster", name: name))
                    break
                }
            }
        }

        var subsystemFiles: [(role: Role, file: String, cr: SubsystemCR)] = []
        for cr in live where cr.kind != "APIConnectCluster" {
            var node = cr.node
            let file = cr.role == .portal ? "portal_cr.yaml" : "management_cr.yaml"
            var described = "\(cr.kind)/\(cr.name)"
            if YAMLTree.get(node, ["spec", "originalUID"])?.string.map({ !$0.isEmpty }) != true,
                let uid = YAMLTree.get(node, ["metadata", "uid"])?.string
            {
                YAMLTree.set(&node, ["spec", "originalUID"], YAMLTree.string(uid))
                described += ", spec.originalUID set to its live UID \(uid)"
            }
            let text = try YAMLTree.emit(applyable(node))
            let parsed = try parse(text, role: cr.role, file: file)
            plan.crNames[cr.role] = cr.name
            plan.baselines[cr.role] = file
            subsystemFiles.append((cr.role, file, parsed))
            plan.files.append(
                File(
                    name: file, text: text, what: described,
                    change: { previous in changes(previous, roles: [cr.role], against: [cr.role: parsed]) }))
        }
        if let top {
            var node = top.node
            var described = "APIConnectCluster/\(top.name) (the CR the DR procedure applies"
            for cr in live where cr.kind != "APIConnectCluster" {
                let sub = cr.role == .portal ? "portal" : "management"
                guard YAMLTree.get(node, ["spec", sub, "originalUID"])?.string.map({ !$0.isEmpty }) != true,
                    let uid = YAMLTree.get(cr.node, ["metadata", "uid"])?.string
                else { continue }
                YAMLTree.set(&node, ["spec", sub, "originalUID"], YAMLTree.string(uid))
                described += "; spec.\(sub).originalUID set to \(cr.kind)/\(cr.name)'s UID \(uid)"
            }
            described += ")"
            let file = "apiconnectcluster.yaml"
            let text = try YAMLTree.emit(applyable(node))
            var parsed: [Role: SubsystemCR] = [:]
            for role in Role.allCases { parsed[role] = try? parse(text, role: role, file: file) }
            for cr in live where cr.kind == "APIConnectCluster" {
                guard let own = parsed[cr.role] else {
                    _ = try parse(text, role: cr.role, file: file)
                    continue
                }
                plan.crNames[cr.role] = cr.name
                plan.baselines[cr.role] = file
                subsystemFiles.append((cr.role, file, own))
                plan.notes.append(
                    "the namespace holds no \(cr.role == .portal ? "PortalCluster" : "ManagementCluster"): spec.\(cr.role == .portal ? "portal" : "management").originalUID cannot be filled in from it; set it by hand if the CR has none"
                )
            }
            let roles = parsed.keys.sorted { $0.rawValue < $1.rawValue }
            plan.files.insert(
                File(
                    name: file, text: text, what: described,
                    change: { previous in changes(previous, roles: roles, against: parsed) }), at: 0)
        }

        guard secrets else { return plan }
        var written: Set<String> = []
        for (role, _, cr) in subsystemFiles {
            for (purpose, name) in [
                (Kit.Purpose.backup, cr.backup.credentials), (.encryption, cr.encryptionSecretName),
            ] {
                guard let name else { continue }
                guard isDNSName(name) else {
                    throw DRAuditError(
                        "\(cr.kind)/\(cr.name) names the Secret '\(name)', which is not a Kubernetes object name")
                }
                let file = "secret-\(name).yaml"
                if written.contains(name) {
                    plan.secretFiles[role, default: [:]][purpose] = file
                    continue
                }
                guard let data = try client.secretIfPresentRaw(name) else {
                    plan.notes.append(
                        "\(cr.kind)/\(cr.name) names the \(role.rawValue) \(purpose == .backup ? "backup" : "encryption") Secret \(name), which the namespace does not hold: not saved"
                    )
                    continue
                }
                let node = try applyableSecret(try YAMLTree.fromJSON(data, what: "Secret \(name)"))
                let text = try YAMLTree.emit(node)
                let values: [String: Data]
                do { values = try SavedSecret.parse(try Documents.parse(text, name: file)).values } catch {
                    throw DRAuditError("Secret \(name) from \(client.location): \(DRAuditError.oneLine(error))")
                }
                written.insert(name)
                plan.secretFiles[role, default: [:]][purpose] = file
                plan.files.append(
                    File(
                        name: file, text: text,
                        what:
                            "Secret \(name) (\(role.rawValue) \(purpose == .backup ? "backup credentials" : "encryption key"), 0600)",
                        change: { previous in
                            guard
                                let old = try? SavedSecret.parse(
                                    Documents.load(previous, what: "previously saved Secret"))
                            else { return "changed since the last save (the old file was unreadable)" }
                            // Secrets: "changed" only, never what.
                            return old.values == values && old.name == name ? nil : "changed since the last save"
                        }))
            }
        }
        return plan
    }

    /// One object by kind and name, as the API server returns it (with its kind and apiVersion).
    static func object(_ client: KubeClient, kind: String, name: String) throws -> Node {
        let resources = KubeClient.subsystemResources(.portal) + KubeClient.subsystemResources(.management)
        let (apiVersion, resource, _) = resources.first { $0.kind == kind }!
        let path =
            "/apis/\(apiVersion)/namespaces/\(S3Location.encode(client.namespace))/\(resource)/\(S3Location.encode(name))"
        return try YAMLTree.fromJSON(try client.get(path, what: "\(kind) \(name)").body, what: "\(kind) \(name)")
    }

    /// A CR as the DR procedure applies it: no status, no server-set metadata (uid, resourceVersion,
    /// managedFields, creationTimestamp, generation, ownerReferences, finalizers), no last-applied annotation.
    static func applyable(_ node: Node) -> Node {
        var node = node
        YAMLTree.keep(&node, [], ["apiVersion", "kind", "metadata", "spec"])
        cleanMetadata(&node)
        return node
    }

    static func applyableSecret(_ node: Node) throws -> Node {
        var node = node
        guard YAMLTree.get(node, ["kind"])?.string == "Secret" else {
            throw DRAuditError("the Kubernetes API answered a Secret read with something else")
        }
        YAMLTree.keep(&node, [], ["apiVersion", "kind", "metadata", "type", "immutable", "data", "stringData"])
        cleanMetadata(&node)
        return node
    }

    static func cleanMetadata(_ node: inout Node) {
        YAMLTree.keep(&node, ["metadata"], ["name", "namespace", "labels", "annotations"])
        // kubectl's last-applied annotation repeats the whole object (a Secret's data too).
        YAMLTree.set(&node, ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"], nil)
        if YAMLTree.get(node, ["metadata", "annotations"])?.mapping?.isEmpty == true {
            YAMLTree.set(&node, ["metadata", "annotations"], nil)
        }
    }

    static func parse(_ text: String, role: Role, file: String) throws -> SubsystemCR {
        do { return try SubsystemCR.parse(try Documents.parse(text, name: file), role: role) } catch {
            throw DRAuditError("the live \(role.rawValue) CR, as saved to \(file): \(DRAuditError.oneLine(error))")
        }
    }

    /// The DR-relevant fields that differ from the previous save's file (nil: none).
    static func changes(_ previous: URL, roles: [Role], against current: [Role: SubsystemCR]) -> String? {
        guard let document = try? Documents.load(previous, what: "previously saved CR") else {
            return "changed since the last save (the old file was unreadable)"
        }
        var changed: [String] = []
        for role in roles {
            guard let now = current[role] else { continue }
            guard let before = try? SubsystemCR.parse(document, role: role) else {
                changed.append(roles.count > 1 ? "\(role.rawValue) section" : "kind")
                continue
            }
            changed += Kit.changedFields(saved: before.drFields, live: now.drFields).map {
                roles.count > 1 ? "\(role.rawValue) \($0)" : $0
            }
        }
        return changed.isEmpty ? nil : "changed since the last save: \(changed.joined(separator: ", "))"
    }

    static func isDNSName(_ name: String) -> Bool {
        name.count <= 253
            && name.range(
                of: #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#, options: .regularExpression)
                != nil
    }

    // MARK: - The kit's config

    /// The config that audits against the kit: the saving config's keys, with `cr:` left out (the current CRs are
    /// read live), `crName`, `baseline`, `secret` and `encryptionSecret` pointing into the kit, and every other path
    /// made valid from the kit folder. Checked by the config parser before anything is written.
    static func kitConfigText(_ config: Config, plan: Plan, folder: URL, secrets: Bool) throws -> String {
        var root = Node.Mapping([]).node
        if let text = try? String(contentsOf: config.file, encoding: .utf8), let node = try? Yams.compose(yaml: text),
            node.mapping != nil
        {
            root = node
        }
        func path(_ url: URL) -> Node {
            let prefix = folder.path.hasSuffix("/") ? folder.path : folder.path + "/"
            return YAMLTree.string(url.path.hasPrefix(prefix) ? "./" + url.path.dropFirst(prefix.count) : url.path)
        }
        let hadDatabase = YAMLTree.get(root, ["database"]) != nil
        YAMLTree.set(&root, ["database"], hadDatabase ? path(config.database) : YAMLTree.string("./dr-audit.sqlite"))
        for role in Role.allCases {
            let key = role.rawValue
            guard let crName = plan.crNames[role] else { continue }
            var section = YAMLTree.get(root, [key]) ?? Node.Mapping([]).node
            if section.mapping == nil { section = Node.Mapping([]).node }
            YAMLTree.set(&section, ["cr"], nil)
            YAMLTree.set(&section, ["crName"], YAMLTree.string(crName))
            YAMLTree.set(&section, ["baseline"], plan.baselines[role].map { YAMLTree.string("./" + $0) })
            let files = plan.secretFiles[role] ?? [:]
            YAMLTree.set(&section, ["secret"], files[.backup].map { YAMLTree.string("./" + $0) })
            YAMLTree.set(&section, ["encryptionSecret"], files[.encryption].map { YAMLTree.string("./" + $0) })
            if let subsystem = config.subsystem(role) {
                if YAMLTree.get(section, ["knownHosts"]) != nil, let url = subsystem.knownHosts {
                    YAMLTree.set(&section, ["knownHosts"], path(url))
                }
                if YAMLTree.get(section, ["caBundle"]) != nil, let url = subsystem.caBundle {
                    YAMLTree.set(&section, ["caBundle"], path(url))
                }
                if subsystem.target["protocol"] == "local", let local = subsystem.target["path"] {
                    YAMLTree.set(&section, ["target", "path"], path(URL(fileURLWithPath: local)))
                }
            }
            YAMLTree.set(&root, [key], section)
        }
        if let kubeconfig = config.cluster?.kubeconfig {
            YAMLTree.set(&root, ["cluster", "kubeconfig"], path(kubeconfig))
        }
        let header = """
            \(configHeader) (\(UTC.rfc3339(Date()))) from \(YAMLTree.commentText(RestorePlan.q(config.file.path))).
            # baseline: the CRs as saved; secret/encryptionSecret: the saved Secrets; the current CRs are read live.
            # dr-audit audit compares the two (DR_KIT_STALE) after each dr-audit scan; run dr-audit save again to refresh.


            """
        let text = header + (try YAMLTree.emit(root))
        do {
            _ = try Config.parse(
                try Documents.parse(text, name: configName), file: folder.appendingPathComponent(configName))
        } catch {
            throw DRAuditError("the kit's \(configName) would not be accepted: \(DRAuditError.oneLine(error))")
        }
        return text
    }
}
