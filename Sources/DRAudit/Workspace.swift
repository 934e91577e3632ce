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
        // First: a WAL segment whose read failed is left out of the inventory.
        input.verification = VerificationEvidence(
            maxAge: config.verifyMaxAge,
            latest: try index.latestVerifications(since: now.addingTimeInterval(-config.verifyMaxAge)))
        for role in roles {
            switch role {
            case .portal:
                input.portal = try index.presentPortalInventory(source: role.rawValue)
            case .management:
                input.managementBackups = try index.presentBackups(source: role.rawValue).map {
                    try decode(ManagementBackup.self, $0.payload ?? "")
                }
                (input.wal, input.verification.readableWAL) = try index.presentWALInventory(
                    source: role.rawValue, unreadable: input.verification.unreadableWAL)
            }
            let attention = try index.attentionObjects(source: role.rawValue)
            input.unrecognized += attention.unrecognized.map {
                UnrecognizedObject(role: role, key: $0.key, size: $0.size, special: $0.special)
            }
            input.emptyMetadata += attention.emptyMetadata.map { UnrecognizedObject(role: role, key: $0.key, size: 0) }
            input.sources.append(
                try sourceState(
                    role.rawValue, fallbackLocation: config.subsystem(role)!.cr?.path ?? "\(role.rawValue) target"))
        }
        if let cluster = config.cluster, cluster.readsBackupRecords {
            var portal: [ClusterRecord] = []
            var management: [ClusterRecord] = []
            try index.presentClusterRecords { _, payload in
                let record = try decode(ClusterRecord.self, payload)
                if record.role == .portal { portal.append(record) } else { management.append(record) }
            }
            if cluster.crossChecksPortal { input.portalRecords = portal }
            if cluster.crossChecksManagement { input.managementRecords = management }
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
    /// (a Prometheus textfile collector) never see half a file. Every write is checked, and the file synced before
    /// the rename: a full disk is an error, never a truncated report in place of the old one. A symbolic link is
    /// followed to the file it names; a device or pipe (`/dev/stdout`) is written to, never replaced.
    public static func writeAtomically(_ text: String, to path: String) throws {
        var target = path
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            // A link that names nothing is replaced, as a file would be.
            guard let real = realpath(path, nil) else { return try writeAtomically(text, at: path, for: path) }
            defer { free(real) }
            target = String(cString: real)
            var resolved = stat()
            if stat(target, &resolved) != 0 || resolved.st_mode & S_IFMT != S_IFREG {
                return try writeThrough(text, to: path)
            }
        }
        try writeAtomically(text, at: target, for: path)
    }

    private static func writeAtomically(_ text: String, at target: String, for path: String) throws {
        let url = URL(fileURLWithPath: target)
        let folder = (target as NSString).deletingLastPathComponent.ifEmpty(".")
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())"
        ).path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw writeFailure(path, folder: folder, errno) }
        var code = writeAll(fd, text)
        if code == 0 && fsync(fd) != 0 { code = errno }
        if close(fd) != 0 && code == 0 { code = errno }
        if code == 0 && rename(temporary, target) != 0 { code = errno }
        if code != 0 {
            unlink(temporary)
            throw writeFailure(path, folder: folder, code)
        }
    }

    private static func writeThrough(_ text: String, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent.ifEmpty(".")
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw writeFailure(path, folder: folder, errno) }
        var code = writeAll(fd, text)
        if close(fd) != 0 && code == 0 { code = errno }
        if code != 0 { throw writeFailure(path, folder: folder, code) }
    }

    /// 0, or the errno of the write that failed.
    private static func writeAll(_ fd: Int32, _ text: String) -> Int32 {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer -> Int32 in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
    }

    private static func writeFailure(_ path: String, folder: String, _ code: Int32) -> DRAuditError {
        switch code {
        case EACCES, EPERM: return DRAuditError("cannot write \(path): the folder \(folder) is not writable")
        case EROFS: return DRAuditError("cannot write \(path): the folder \(folder) is on a read-only file system")
        case ENOENT, ENOTDIR: return DRAuditError("cannot write \(path): no such folder \(folder)")
        case ENOSPC, EDQUOT: return DRAuditError("cannot write \(path): the disk is full")
        default: return DRAuditError("cannot write \(path): \(String(cString: strerror(code)))")
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
