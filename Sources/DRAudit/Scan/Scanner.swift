import DRAuditCore
import Foundation
import Logging

/// Lists a target into the index's staging tables batch by batch, reads its metadata files, parses records,
/// and commits the difference in one transaction.
public struct Scanner {
    /// Metadata files (backup.info) larger than this are not metadata.
    public static let metadataLimit = 8 << 20

    public struct Report: Sendable {
        public var source: String
        public var location: String
        public var counts: Index.ScanCounts?
        public var error: DRAuditError?
    }

    let index: Index
    let logger: Logger
    let progress: ((String) -> Void)?

    public init(index: Index, logger: Logger, progress: ((String) -> Void)? = nil) {
        self.index = index
        self.logger = logger
        self.progress = progress
    }

    /// Objects staged per batch: one S3 page.
    static let batchSize = 1000

    /// Scans one storage target. The listing runs on its own thread and hands over batches, so network
    /// waits and parsing/staging overlap; batches are staged in the index's TEMP tables as they come.
    /// A failure is recorded as a failed scan and changes nothing else.
    public func scan(role: Role, target: StorageTarget) throws -> Report {
        let started = Date()
        let source = role.rawValue
        let writer = try index.beginStorageScan(source: source, location: target.location, started: started)
        let pipe = BatchPipe(capacity: 8)
        do {
            // A target listing key ranges at once cuts them where the previous scan's keys fall in equal counts.
            let parts = target.keyRangeParallelism
            let plan = ListingPlan(cuts: parts > 1 ? try index.keyCuts(source: source, parts: parts) : [])
            let listing = pipe.produce(from: target, plan: plan, batchSize: Self.batchSize)
            var shown = ListingProgress(source: source, started: started.timeIntervalSince1970)
            var evidence = ManagementEvidence()
            var listed = 0
            do {
                while let batch = try pipe.take() {
                    var objects: [Index.StagedObject] = []
                    objects.reserveCapacity(batch.count)
                    for object in batch {
                        switch role {
                        case .portal:
                            // One parse gives both the kind and the record, stored on the object's row.
                            if let file = Classifier.portalFile(object) {
                                objects.append(
                                    .init(
                                        object, file.kind == .system ? .portalSystem : .portalSite,
                                        time: file.time.timeIntervalSince1970, site: file.site))
                            } else {
                                objects.append(.init(object, .unrecognized))
                            }
                        case .management:
                            // WAL segments first, on the key's bytes: a busy archive holds most of the objects.
                            if object.special == nil, let place = Classifier.walPlace(object.key) {
                                evidence.add(object, place)
                                var staged = Index.StagedObject(object, place.kind)
                                if place.kind.isWALSegment { staged.wal = (place.archive, place.file.segment) }
                                objects.append(staged)
                                continue
                            }
                            let kind = Classifier.classify(object, role: role)
                            evidence.add(object, kind)
                            objects.append(.init(object, kind))
                        }
                    }
                    try writer.stage(objects)
                    listed += batch.count
                    if let progress, let line = shown.update(count: listed, now: Date().timeIntervalSince1970) {
                        progress(line)
                    }
                }
            } catch {
                pipe.cancel()
                listing.wait()
                throw error
            }
            listing.wait()
            if role == .management {
                var contents: [String: String] = [:]
                // Read as many at once as the target allows (a barman repository has one backup.info per backup).
                // Unreadable text is left out: its backups are then reported incomplete, not guessed.
                try target.read(Classifier.metadataKeys(evidence.objects), limit: Self.metadataLimit) { key, data in
                    contents[key] = String(data: data, encoding: .utf8)
                }
                try writer.stage([], backups: try Self.managementRows(evidence.objects, contents: contents))
            }
        } catch {
            writer.discard()
            let failure =
                (error as? DRAuditError) ?? DRAuditError(DRAuditError.oneLine(error), code: "TARGET_UNREACHABLE")
            if failure.code == Index.errorCode { throw failure }
            // The command prints the failure as its one line; the log repeats it only with --verbose.
            logger.info("scan failed", metadata: ["source": "\(source)", "error": "\(failure.message)"])
            try index.recordFailedScan(
                source: source, location: target.location, started: started,
                code: failure.code ?? "TARGET_UNREACHABLE", error: failure.message)
            return Report(source: source, location: target.location, counts: nil, error: failure)
        }
        let listedAt = Date()
        let counts = try writer.commit()
        logger.info(
            "scan done",
            metadata: [
                "source": "\(source)", "seen": "\(counts.seen)", "added": "\(counts.added)", "gone": "\(counts.gone)",
                "listSeconds": "\(String(format: "%.2f", listedAt.timeIntervalSince(started)))",
                "commitSeconds": "\(String(format: "%.2f", Date().timeIntervalSince(listedAt)))",
            ])
        return Report(source: source, location: target.location, counts: counts, error: nil)
    }

    static func managementRows(_ objects: [(object: StorageObject, kind: ObjectKind)], contents: [String: String])
        throws -> [Index.Row]
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return try Classifier.managementBackups(objects, contents: contents).map { backup in
            Index.Row(
                key: backup.id, kind: backup.format.rawValue, time: backup.time.timeIntervalSince1970,
                payload: String(decoding: try encoder.encode(backup), as: UTF8.self))
        }
    }

    /// Reads the backup CRs from the API server, and what `kit` reads of the objects the DR kit holds copies of.
    /// Any failure fails the whole cluster scan.
    func scanLiveCluster(
        client makeClient: () throws -> KubeClient, kit: (KubeClient) throws -> [Kit.LiveSubsystem] = { _ in [] }
    ) throws -> Report {
        try scanClusterRecords(location: "Kubernetes API", failureCode: "CLUSTER_UNREACHABLE") { location, emit in
            let client = try makeClient()
            location = client.location
            for record in try client.backupRecords() { try emit(record) }
            return try kit(client)
        }
    }

    /// Reads the cluster exports, an item at a time, and records their backup CRs. A bad export fails the whole
    /// cluster scan.
    public func scanCluster(_ cluster: Config.Cluster) throws -> Report {
        let files = [(Role.portal, cluster.portalBackups), (Role.management, cluster.managementBackups)]
        return try scanClusterRecords(
            location: files.compactMap { $0.1?.path }.joined(separator: ", "),
            failureCode: "CLUSTER_EXPORT_INVALID"
        ) { _, emit in
            for case (let role, let url?) in files { try ClusterExport.read(url, role: role, each: emit) }
            return nil
        }
    }

    /// One cluster scan: `read` names where it read (for the scan row) and hands over the records, which are
    /// staged as they come. A failure is recorded as a failed `cluster` scan and changes nothing else.
    private func scanClusterRecords(
        location initial: String, failureCode: String,
        read: (inout String, _ emit: (ClusterRecord) throws -> Void) throws -> [Kit.LiveSubsystem]?
    ) throws -> Report {
        let started = Date()
        var location = initial
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let writer = try index.beginClusterScan(location: location, started: started)
        var batch: [Index.Row] = []
        var liveKit: [(role: String, payload: String)]?
        do {
            let live = try read(&location) { r in
                batch.append(
                    Index.Row(
                        key: r.name, kind: r.kind.rawValue, phase: r.phase,
                        payload: String(decoding: try encoder.encode(r), as: UTF8.self)))
                if batch.count == Self.batchSize {
                    try writer.stage(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            try writer.stage(batch)
            liveKit = try live?.map { ($0.role.rawValue, String(decoding: try encoder.encode($0), as: UTF8.self)) }
        } catch {
            writer.discard()
            let failure = (error as? DRAuditError) ?? DRAuditError(DRAuditError.oneLine(error))
            if failure.code == Index.errorCode { throw failure }
            try index.recordFailedScan(
                source: "cluster", location: location, started: started,
                code: failure.code ?? failureCode, error: failure.message)
            return Report(source: "cluster", location: location, counts: nil, error: failure)
        }
        let counts = try writer.commit(liveKit: liveKit)
        return Report(source: "cluster", location: location, counts: counts, error: nil)
    }
}
