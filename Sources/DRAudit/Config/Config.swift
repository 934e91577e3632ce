import DRAuditCore
import Foundation

/// `dr-audit.yaml`. Every path in it is relative to the config file's folder.
public struct Config: Sendable {
    public struct Subsystem: Sendable {
        /// The saved CR; without it (live cluster only) the CR, its Secrets included, is read from the API server.
        public var cr: URL?
        /// Live cluster: which CR, when the namespace holds more than one.
        public var crName: String?
        public var secret: URL?
        public var encryptionSecret: URL?
        /// Overrides of the CR's backup location (`protocol`, `path`, `host`, `port`), e.g. a local copy.
        public var target: [String: String]
        /// SFTP: the known_hosts file to verify the server against (default ~/.ssh/known_hosts).
        public var knownHosts: URL?
        /// SFTP: a pinned `SHA256:` host key fingerprint, used instead of known_hosts.
        public var hostKeyFingerprint: String?
        /// Connect and per-operation timeout for remote targets.
        public var timeout: TimeInterval = 30
        /// Remote targets: requests in flight at once (S3 key ranges over as many connections; SFTP folders, each
        /// with several READDIRs queued). nil: the target's default.
        public var parallel: Int?
        /// objstore: an endpoint URL replacing the CR's endpoint (`http://127.0.0.1:8333`); plain http only this way.
        public var endpoint: String?
        /// objstore: a PEM CA bundle for a custom S3 with a private CA (the CR's backupCerts, saved).
        public var caBundle: URL?
        /// The CR as saved when the backups were taken, to detect changed names, UIDs, endpoints and targets.
        public var baseline: URL?
        /// Portal: sites deleted on purpose, never expected in a run again.
        public var retiredSites: [String] = []
    }

    public struct Cluster: Sendable {
        public var portalBackups: URL?
        public var managementBackups: URL?
        /// Live: a kubeconfig (default $KUBECONFIG, then ~/.kube/config) and context, or the pod's service account.
        public var kubeconfig: URL?
        public var context: String?
        public var namespace: String?
        public var inCluster = false

        /// Whether the backup CRs come from the API server rather than from export files.
        public var isLive: Bool { kubeconfig != nil || context != nil || namespace != nil || inCluster }
        public var crossChecksPortal: Bool { isLive || portalBackups != nil }
        public var crossChecksManagement: Bool { isLive || managementBackups != nil }
        /// Whether a `cluster` source is scanned at all.
        public var readsBackupRecords: Bool { crossChecksPortal || crossChecksManagement }
    }

    public var file: URL
    public var database: URL
    public var portal: Subsystem?
    public var management: Subsystem?
    public var cluster: Cluster?
    public var policy: PairingPolicy
    /// `kit.maxAge`: a DR kit saved longer ago than this is `DR_KIT_OLD`.
    public var kitMaxAge: TimeInterval = Kit.defaultMaxAge

    /// A target's timeout: a day is already no timeout at all (and milliseconds stay within what libssh2 takes).
    public static let maximumTimeout: TimeInterval = 86400
    /// `verify.maxAge`: the newest pair should have been verified within this (else VERIFY_STALE).
    public var verifyMaxAge: TimeInterval = 7 * 86400

    public func subsystem(_ role: Role) -> Subsystem? { role == .portal ? portal : management }

    public static func load(_ file: URL) throws -> Config {
        let root = try Documents.load(file, what: "config")
        return try parse(root, file: file)
    }

    /// The config as `dr-audit save` reads it: only its `cluster:` section is needed.
    public static func loadForSave(_ file: URL) throws -> Config {
        try parse(try Documents.load(file, what: "config"), file: file, requireSubsystems: false)
    }

    /// The config a parsed document describes; `file` is where it was read (paths are relative to its folder).
    public static func parse(_ root: DocumentNode, file: URL, requireSubsystems: Bool = true) throws -> Config {
        let name = file.lastPathComponent
        let base = file.deletingLastPathComponent()
        func fail(_ key: String, _ why: String) -> DRAuditError { DRAuditError("\(name): \(key): \(why)") }
        func map(_ node: DocumentNode?, _ key: String, allowed: Set<String>) throws -> [String: DocumentNode]? {
            guard let node else { return nil }
            if case .null = node { return nil }
            guard let entries = node.entries else { throw fail(key, "must be a mapping") }
            if let unknown = entries.keys.sorted().first(where: { !allowed.contains($0) }) {
                throw fail(
                    key.isEmpty ? unknown : "\(key).\(unknown)",
                    "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
            return entries
        }
        func text(_ node: DocumentNode?, _ key: String) throws -> String? {
            guard let node else { return nil }
            if case .null = node { return nil }
            guard let s = node.string, !s.isEmpty else { throw fail(key, "must be a non-empty string") }
            return s
        }
        func path(_ node: DocumentNode?, _ key: String) throws -> URL? {
            try text(node, key).map {
                URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath, relativeTo: base).standardizedFileURL
            }
        }
        func duration(
            _ node: DocumentNode?, _ key: String, default value: TimeInterval, maximum: (TimeInterval, String)? = nil
        ) throws -> TimeInterval {
            guard let t = try text(node, key) else { return value }
            let d: TimeInterval
            do { d = try DurationText.read(t) } catch { throw fail(key, "'\(t)' \(error.reason)") }
            guard d > 0 else { throw fail(key, "'\(t)' is not a duration (write it like 30m, 26h or 1d)") }
            if let (limit, name) = maximum, d > limit { throw fail(key, "'\(t)' is longer than \(name)") }
            return d
        }

        guard
            let top = try map(
                root, "", allowed: ["database", "portal", "management", "cluster", "pairing", "kit", "verify"])
        else {
            throw DRAuditError("\(name): empty config")
        }
        var cluster: Cluster?
        if let entries = try map(
            top["cluster"], "cluster",
            allowed: [
                "portalBackups", "managementBackups", "kubeconfig", "context",
                "namespace", "inCluster",
            ])
        {
            var c = Cluster(
                portalBackups: try path(entries["portalBackups"], "cluster.portalBackups"),
                managementBackups: try path(entries["managementBackups"], "cluster.managementBackups"))
            c.kubeconfig = try path(entries["kubeconfig"], "cluster.kubeconfig")
            c.context = try text(entries["context"], "cluster.context")
            c.namespace = try text(entries["namespace"], "cluster.namespace")
            if let flag = try text(entries["inCluster"], "cluster.inCluster") {
                guard flag == "true" || flag == "false" else {
                    throw fail("cluster.inCluster", "must be true or false")
                }
                c.inCluster = flag == "true"
            }
            if c.isLive && (c.portalBackups != nil || c.managementBackups != nil) {
                throw fail(
                    "cluster",
                    "use either export files (portalBackups/managementBackups) or a live cluster (kubeconfig/context/namespace/inCluster), not both"
                )
            }
            cluster = c
        }
        func subsystem(_ key: String) throws -> Subsystem? {
            guard
                let entries = try map(
                    top[key], key,
                    allowed: Set([
                        "cr", "crName", "secret", "encryptionSecret", "target",
                        "knownHosts", "hostKeyFingerprint", "timeout", "parallel",
                        "endpoint", "caBundle", "baseline",
                    ]).union(key == "portal" ? ["retiredSites"] : []))
            else { return nil }
            let cr = try path(entries["cr"], "\(key).cr")
            if cr == nil && cluster?.isLive != true {
                throw fail("\(key).cr", "is required (or a live cluster: cluster.kubeconfig or cluster.inCluster)")
            }
            var target: [String: String] = [:]
            for (k, v) in try map(entries["target"], "\(key).target", allowed: ["protocol", "host", "port", "path"])
                ?? [:]
            {
                target[k] = try text(v, "\(key).target.\(k)")
            }
            if target["protocol"] == "local", let p = target["path"] {
                target["path"] =
                    URL(fileURLWithPath: (p as NSString).expandingTildeInPath, relativeTo: base).standardizedFileURL
                    .path
            }
            let fingerprint = try text(entries["hostKeyFingerprint"], "\(key).hostKeyFingerprint")
            if let fingerprint,
                fingerprint.range(of: #"^(SHA256:)?[A-Za-z0-9+/]{43}=?$"#, options: .regularExpression) == nil
            {
                throw fail(
                    "\(key).hostKeyFingerprint", "must be a SHA256 fingerprint as ssh-keygen -lf prints it (SHA256:…)")
            }
            var retired: [String] = []
            if let node = entries["retiredSites"] {
                guard let items = node.items ?? (node == .null ? [] : nil) else {
                    throw fail("\(key).retiredSites", "must be a list of site ids (host@porg@catalog)")
                }
                retired = try items.enumerated().map { try text($1, "\(key).retiredSites[\($0)]")! }
            }
            var parallel: Int?
            if let text = try text(entries["parallel"], "\(key).parallel") {
                guard let n = Int(text), (1...64).contains(n) else {
                    throw fail("\(key).parallel", "'\(text)' is not a whole number from 1 to 64")
                }
                parallel = n
            }
            var subsystem = Subsystem(
                cr: cr, crName: try text(entries["crName"], "\(key).crName"),
                secret: try path(entries["secret"], "\(key).secret"),
                encryptionSecret: try path(entries["encryptionSecret"], "\(key).encryptionSecret"), target: target,
                knownHosts: try path(entries["knownHosts"], "\(key).knownHosts"), hostKeyFingerprint: fingerprint,
                timeout: try duration(
                    entries["timeout"], "\(key).timeout", default: 30, maximum: (Self.maximumTimeout, "1d")),
                parallel: parallel,
                endpoint: try text(entries["endpoint"], "\(key).endpoint"),
                caBundle: try path(entries["caBundle"], "\(key).caBundle"),
                baseline: try path(entries["baseline"], "\(key).baseline"))
            subsystem.retiredSites = retired
            return subsystem
        }
        let pairing = try map(top["pairing"], "pairing", allowed: ["tolerance", "rpo", "runGap", "pitr"]) ?? [:]
        var policy = PairingPolicy(
            tolerance: try duration(pairing["tolerance"], "pairing.tolerance", default: 30 * 60),
            rpo: try duration(pairing["rpo"], "pairing.rpo", default: 26 * 3600))
        policy.runGap = try duration(pairing["runGap"], "pairing.runGap", default: 30 * 60)
        switch try text(pairing["pitr"], "pairing.pitr") ?? "auto" {
        case "auto": policy.pitr = true
        case "off": policy.pitr = false
        case let other: throw fail("pairing.pitr", "'\(other)' is neither auto nor off")
        }
        let kit = try map(top["kit"], "kit", allowed: ["maxAge"]) ?? [:]
        let kitMaxAge = try duration(kit["maxAge"], "kit.maxAge", default: Kit.defaultMaxAge)
        let verify = try map(top["verify"], "verify", allowed: ["maxAge"]) ?? [:]
        let verifyMaxAge = try duration(verify["maxAge"], "verify.maxAge", default: 7 * 86400)
        guard
            let database = try path(top["database"], "database")
                ?? (requireSubsystems ? nil : base.appendingPathComponent("dr-audit.sqlite"))
        else { throw fail("database", "is required") }
        var config = Config(
            file: file, database: database, portal: try subsystem("portal"),
            management: try subsystem("management"), cluster: cluster, policy: policy)
        config.kitMaxAge = kitMaxAge
        config.verifyMaxAge = verifyMaxAge
        guard config.portal != nil || config.management != nil || !requireSubsystems else {
            throw DRAuditError("\(name): neither portal nor management is configured")
        }
        return config
    }
}
