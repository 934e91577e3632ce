import DRAuditCore
import Foundation
import Logging

/// A config, its index and the operator's artifacts: what every command works on.
public final class Workspace {
    public let config: Config
    public let index: Index
    let logger: Logger

    public init(configPath: String, logger: Logger = Workspace.quietLogger) throws {
        config = try Config.load(URL(fileURLWithPath: configPath))
        index = try Index(path: config.database.path)
        self.logger = logger
    }

    public static var quietLogger: Logger {
        var logger = Logger(label: "dr-audit")
        logger.logLevel = .warning
        return logger
    }

    public var roles: [Role] { Role.allCases.filter { config.subsystem($0) != nil } }

    public func artifacts(_ role: Role) throws -> SubsystemArtifacts? {
        guard let subsystem = config.subsystem(role) else { return nil }
        return try Artifacts.load(role, config: subsystem, kube: kubeClient)
    }

    private var kube: KubeClient?

    /// The API server client of a live cluster config, made on first use; nil for export files.
    func kubeClient() throws -> KubeClient? {
        if let kube { return kube }
        guard let cluster = config.cluster, cluster.isLive else { return nil }
        kube = try KubeClient.make(for: cluster)
        return kube
    }

    /// Scans every configured target and the cluster exports; each source is its own transaction.
    public func scan(progress: ((String) -> Void)? = nil) throws -> [Scanner.Report] {
        let scanner = Scanner(index: index, logger: logger, progress: progress)
        var reports: [Scanner.Report] = []
        // Resolve every target first: a config mistake stops the run before anything is written.
        let targets = try roles.map { role -> (Role, StorageTarget) in
            (role, try TargetFactory.make(role: role, artifacts: try artifacts(role)!))
        }
        for (role, target) in targets {
            progress?("\(role.rawValue): scanning \(target.location)")
            reports.append(try scanner.scan(role: role, target: target))
        }
        if let cluster = config.cluster, cluster.isLive {
            progress?("cluster: reading backup CRs from the API server")
            let config = config
            reports.append(
                try scanner.scanLiveCluster(
                    client: { try self.kubeClient()! }, kit: { try KitFiles.readLive(config, client: $0) }))
        } else if let cluster = config.cluster, cluster.readsBackupRecords {
            progress?("cluster: reading exports")
            reports.append(try scanner.scanCluster(cluster))
        }
        return reports
    }

    /// Everything the pure audit needs, read from the index and the saved artifacts.
    public func auditInput(now: Date, tolerance: TimeInterval? = nil, withDeployment: Bool = true) throws -> AuditInput
    {
        var policy = config.policy
        if let tolerance { policy.tolerance = tolerance }
        // The portal's artifacts once: with a live cluster each read is a request.
        let portal = try withDeployment ? artifacts(.portal) : nil
        if let subsystem = config.portal {
            policy.retiredSites = Set(subsystem.retiredSites)
            // Which runs the schedule started; an empty or unreadable schedule is not known.
            let cr = try portal?.cr ?? Artifacts.loadCR(.portal, config: subsystem, kube: kubeClient)
            policy.portalSchedule = cr.backup.schedule.flatMap(CronSchedule.init)
        }
        var input = AuditInput(now: now, policy: policy)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        func decode<T: Decodable>(_ type: T.Type, _ payload: String) throws -> T {
            do { return try decoder.decode(T.self, from: Data(payload.utf8)) } catch {
                throw DRAuditError(
                    "index \(index.path): a stored record does not decode; was it edited by hand? (\(DRAuditError.oneLine(error)))"
                )
            }
        }
        for role in roles {
            switch role {
            case .portal:
                input.portal = try index.presentPortalInventory(source: role.rawValue)
            case .management:
                input.managementBackups = try index.presentBackups(source: role.rawValue).map {
                    try decode(ManagementBackup.self, $0.payload ?? "")
                }
                input.wal = try index.presentWALInventory(source: role.rawValue)
            }
            let attention = try index.attentionObjects(source: role.rawValue)
            input.unrecognized += attention.unrecognized.map {
                UnrecognizedObject(role: role, key: $0.key, size: $0.size)
            }
            input.emptyMetadata += attention.emptyMetadata.map { UnrecognizedObject(role: role, key: $0.key, size: 0) }
            input.sources.append(
                try sourceState(
                    role.rawValue, fallbackLocation: config.subsystem(role)!.cr?.path ?? "\(role.rawValue) target"))
        }
        if let cluster = config.cluster, cluster.readsBackupRecords {
            let records = try index.presentClusterPayloads().map { try decode(ClusterRecord.self, $0.payload) }
            if cluster.crossChecksPortal { input.portalRecords = records.filter { $0.role == .portal } }
            if cluster.crossChecksManagement { input.managementRecords = records.filter { $0.role == .management } }
            input.sources.append(try sourceState("cluster", fallbackLocation: "cluster exports"))
        }
        if withDeployment {
            let management = try artifacts(.management)
            input.deployment = DeploymentState(
                portalCR: portal?.cr, managementCR: management?.cr,
                portalSecret: portal?.secret, managementSecret: management?.secret,
                encryptionSecret: Artifacts.encryptionSecret(
                    config.portal?.encryptionSecret,
                    name: portal?.cr.encryptionSecretName, kube: kubeClient))
            input.deployment.managementEncryptionSecret = Artifacts.encryptionSecret(
                config.management?.encryptionSecret, name: management?.cr.encryptionSecretName, role: .management,
                kube: kubeClient)
            input.kit = try KitFiles.state(
                config,
                baselines: [.portal: portal?.baseline, .management: management?.baseline].compactMapValues { $0 },
                live: config.cluster?.isLive == true ? try index.liveKitPayloads() : nil)
            input.deployment.portalBaseline = portal?.baseline
            input.deployment.managementBaseline = management?.baseline
        }
        return input
    }

    /// The configured sources with their last scan and object counts, for metrics.
    public func sourceMetrics() throws -> [Metrics.SourceMetrics] {
        var sources = roles.map(\.rawValue)
        if config.cluster?.readsBackupRecords == true { sources.append("cluster") }
        return try sources.map { source in
            let scan = try index.lastScan(source: source)
            return Metrics.SourceMetrics(
                source: source, lastScanAt: scan?.startedAt, lastScanOK: scan?.ok ?? false,
                lastScanDuration: scan.map { $0.finishedAt.timeIntervalSince($0.startedAt) },
                objects: try index.presentCount(source: source))
        }
    }

    /// Writes `text` to `path` through a temporary file in the same folder and a rename, so readers
    /// (a Prometheus textfile collector) never see half a file.
    public static func writeAtomically(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try Data(text.utf8).write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(at: temporary)
                throw DRAuditError("cannot write \(path): \(reason)")
            }
        } catch let error as DRAuditError {
            throw error
        } catch {
            throw DRAuditError(
                "cannot write \(path): \(FileManager.default.fileExists(atPath: url.deletingLastPathComponent().path) ? "permission denied" : "no such folder")"
            )
        }
    }

    private func sourceState(_ source: String, fallbackLocation: String) throws -> SourceState {
        guard let scan = try index.lastScan(source: source) else {
            return SourceState(source: source, location: fallbackLocation, lastScanAt: nil, ok: false)
        }
        return SourceState(
            source: source, location: scan.location, lastScanAt: scan.startedAt, ok: scan.ok,
            errorCode: scan.errorCode, error: scan.error)
    }
}
