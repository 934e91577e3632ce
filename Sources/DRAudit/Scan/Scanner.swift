import DRAuditCore
import Foundation
import Logging

/// Lists a target, reads its metadata files, parses records, and hands everything to the index in one go.
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

    /// Scans one storage target, streaming the listing into the index's staging tables batch by batch.
    /// A failure is recorded as a failed scan and changes nothing else.
    public func scan(role: Role, target: StorageTarget) throws -> Report {
        let started = Date()
        let source = role.rawValue
        let writer = try index.beginStorageScan(source: source, location: target.location, started: started)
        do {
            var batch: [(object: StorageObject, kind: ObjectKind)] = []
            batch.reserveCapacity(Self.batchSize)
            var evidence = ManagementEvidence()
            var listed = 0
            func flush() throws {
                try writer.stage(batch, backups: role == .portal ? Self.portalRows(batch) : [])
                batch.removeAll(keepingCapacity: true)
            }
            try target.list { object in
                let kind = Classifier.classify(object.key, role: role)
                if role == .management { evidence.add(object, kind) }
                batch.append((object, kind))
                listed += 1
                if batch.count == Self.batchSize { try flush() }
                if listed % 10_000 == 0 { progress?("\(source): \(listed) objects listed") }
            }
            try flush()
            if role == .management {
                var contents: [String: String] = [:]
                for key in Classifier.metadataKeys(evidence.objects) {
                    // Unreadable text is left out: its backups are then reported incomplete, not guessed.
                    contents[key] = String(data: try target.read(key, limit: Self.metadataLimit), encoding: .utf8)
                }
                try writer.stage([], backups: try Self.managementRows(evidence.objects, contents: contents))
            }
        } catch {
            writer.discard()
            let failure = (error as? DRAuditError) ?? DRAuditError(DRAuditError.oneLine(error), code: "TARGET_UNREACHABLE")
            if failure.code == Index.errorCode { throw failure }
            logger.error("scan failed", metadata: ["source": "\(source)", "error": "\(failure.message)"])
            try index.recordFailedScan(source: source, location: target.location, started: started,
                                       code: failure.code ?? "TARGET_UNREACHABLE", error: failure.message)
            return Report(source: source, location: target.location, counts: nil, error: failure)
        }
        let counts = try writer.commit()
        logger.info("scan done", metadata: ["source": "\(source)", "seen": "\(counts.seen)", "added": "\(counts.added)", "gone": "\(counts.gone)"])
        return Report(source: source, location: target.location, counts: counts, error: nil)
    }

    /// Portal files are fully described by columns; no JSON on the hot path.
    static func portalRows(_ objects: [(object: StorageObject, kind: ObjectKind)]) -> [Index.Row] {
        objects.compactMap { pair in
            guard pair.kind != .unrecognized, let file = Classifier.portalFile(pair.object) else { return nil }
            return Index.Row(key: file.key, kind: pair.kind.rawValue, time: file.time.timeIntervalSince1970, size: file.size, site: file.site)
        }
    }

    static func managementRows(_ objects: [(object: StorageObject, kind: ObjectKind)], contents: [String: String]) throws -> [Index.Row] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        return try Classifier.managementBackups(objects, contents: contents).map { backup in
            Index.Row(key: backup.id, kind: backup.format.rawValue, time: backup.time.timeIntervalSince1970,
                      payload: String(decoding: try encoder.encode(backup), as: UTF8.self))
        }
    }

    /// Reads the cluster exports and records their backup CRs. A bad export fails the whole cluster scan.
    public func scanCluster(_ cluster: Config.Cluster) throws -> Report {
        let started = Date()
        let files = [(Role.portal, cluster.portalBackups), (Role.management, cluster.managementBackups)]
        let location = files.compactMap { $0.1?.path }.joined(separator: ", ")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var rows: [Index.Row] = []
        do {
            for case let (role, url?) in files {
                let document = try Documents.load(url, what: "\(role.rawValue) backups export")
                let records: [ClusterRecord]
                do { records = try ClusterExport.records(document, role: role) } catch {
                    throw DRAuditError("\(role.rawValue) backups export \(url.path): \(DRAuditError.oneLine(error))", code: "CLUSTER_EXPORT_INVALID")
                }
                for r in records {
                    rows.append(Index.Row(key: r.name, kind: r.kind.rawValue, phase: r.phase,
                                          payload: String(decoding: try encoder.encode(r), as: UTF8.self)))
                }
            }
        } catch {
            let failure = (error as? DRAuditError) ?? DRAuditError(DRAuditError.oneLine(error))
            try index.recordFailedScan(source: "cluster", location: location, started: started,
                                       code: failure.code ?? "CLUSTER_EXPORT_INVALID", error: failure.message)
            return Report(source: "cluster", location: location, counts: nil, error: failure)
        }
        let counts = try index.recordClusterScan(location: location, started: started, records: rows)
        return Report(source: "cluster", location: location, counts: counts, error: nil)
    }
}
