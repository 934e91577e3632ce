import Foundation

/// A PortalBackup, ManagementBackup or EDB Backup custom resource, reduced to what the cross-check needs.
public struct ClusterRecord: Hashable, Codable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case portalBackup = "PortalBackup"
        case managementBackup = "ManagementBackup"
        case edbBackup = "Backup"
    }
    public enum Verdict: String, Codable, Sendable { case ready, failed, pending }

    public var kind: Kind
    public var name: String
    public var phase: String?
    public var type: String?
    public var crType: String?
    /// The remote object it describes: portal file name, pgBackRest label, or barman `<server>/<backupId>`.
    public var objectName: String?
    /// The subsystem CR it belongs to (PortalBackup `spec.portalCluster`, ManagementBackup `spec.clusterName`).
    public var cluster: String?

    public init(
        kind: Kind, name: String, phase: String?, type: String? = nil, crType: String? = nil, objectName: String?
    ) {
        self.kind = kind
        self.name = name
        self.phase = phase
        self.type = type
        self.crType = crType
        self.objectName = objectName
    }

    public var verdict: Verdict {
        switch phase?.lowercased() {
        case "ready", "completed": return .ready
        // An EDB Backup whose WAL archiving fails cannot be recovered to a consistent point.
        case "failed", "walarchivingfailing": return .failed
        default: return .pending
        }
    }

    public var role: Role { kind == .portalBackup ? .portal : .management }
}

public struct DocumentError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum ClusterExport {
    /// Reads a `kubectl get … -o json|yaml` export: a List or one object. `role` says which kinds belong.
    /// `itemKind` stands in for items without a `kind`, as in API server List answers.
    public static func records(_ document: DocumentNode, role: Role, itemKind: ClusterRecord.Kind? = nil) throws
        -> [ClusterRecord]
    {
        let objects: [DocumentNode]
        if let items = document["items"]?.items {
            objects = items
        } else if document["kind"]?.string != nil {
            objects = [document]
        } else if case .null = document {
            objects = []
        } else {
            throw DocumentError("neither a List with items nor a single object with a kind")
        }
        return try objects.enumerated().map { index, object in
            try record(object, index: index, role: role, itemKind: itemKind)
        }
    }

    /// One item of an export or List answer; `index` is its place in `items`, for the error.
    public static func record(
        _ object: DocumentNode, index: Int, role: Role, itemKind: ClusterRecord.Kind? = nil
    ) throws -> ClusterRecord {
        guard let kindText = object["kind"]?.string ?? itemKind?.rawValue else {
            throw DocumentError("item \(index) has no kind")
        }
        guard let kind = ClusterRecord.Kind(rawValue: kindText) else {
            throw DocumentError("item \(index) is a \(kindText), not a PortalBackup, ManagementBackup or Backup")
        }
        let expected: [ClusterRecord.Kind] = role == .portal ? [.portalBackup] : [.managementBackup, .edbBackup]
        guard expected.contains(kind) else {
            throw DocumentError("item \(index) is a \(kindText) in the \(role.rawValue) export")
        }
        guard let name = object["metadata", "name"]?.string, !name.isEmpty else {
            throw DocumentError("item \(index) (\(kindText)) has no metadata.name")
        }
        let phase = object["status", "phase"]?.string
        switch kind {
        case .portalBackup:
            var record = ClusterRecord(
                kind: kind, name: name, phase: phase, type: object["spec", "type"]?.string,
                crType: object["spec", "crType"]?.string,
                objectName: object["status", "fullBackupName"]?.string.flatMap(nonEmpty))
            record.cluster = object["spec", "portalCluster"]?.string.flatMap(nonEmpty)
            return record
        case .managementBackup:
            var record = ClusterRecord(
                kind: kind, name: name, phase: phase, type: object["spec", "type"]?.string,
                crType: object["spec", "crType"]?.string,
                objectName: object["status", "id"]?.string.flatMap(nonEmpty))
            record.cluster = object["spec", "clusterName"]?.string.flatMap(nonEmpty)
            return record
        case .edbBackup:
            let server = object["status", "serverName"]?.string
            let id = object["status", "backupId"]?.string
            return ClusterRecord(
                kind: kind, name: name, phase: phase, type: "full", crType: nil,
                objectName: server.flatMap { s in id.map { "\(s)/\($0)" } })
        }
    }

    private static func nonEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }
}
