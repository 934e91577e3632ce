import DRAuditCore
import Foundation

/// A place backups are stored. Implementations: local folder; SFTP and S3 plug in here.
public protocol StorageTarget: Sendable {
    /// Where it points, for messages and the index. Never holds credentials.
    var location: String { get }
    /// Lists every object below the root, recursively, calling `visit` for each.
    func list(_ visit: (StorageObject) throws -> Void) throws
    /// Reads a small object whole; fails when it is larger than `limit` bytes.
    func read(_ key: String, limit: Int) throws -> Data

    /// How many key ranges the target lists at once when it lists by key ranges (S3); 0 when it does not. The
    /// scanner then asks the index for cuts from the previous scan (`ListingPlan`).
    var keyRangeParallelism: Int { get }
    /// Lists like `list(_:)`, using what the previous scan saw to share the work out.
    func list(plan: ListingPlan, _ visit: (StorageObject) throws -> Void) throws
    /// Reads several small objects, as many at once as the target allows; `each` is called on the caller's thread,
    /// once per key, in no particular order. Fails like `read(_:limit:)`.
    func read(_ keys: [String], limit: Int, _ each: (String, Data) throws -> Void) throws
    /// Reads an object from start to end, handing its bytes to `consume` as they arrive: never the whole object in
    /// memory, never on disk. `consume` returns false to stop early (the rest is not read). Returns the bytes
    /// handed over.
    func stream(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int64
}

/// What a listing can learn from the previous successful scan of the same source.
public struct ListingPlan: Sendable, Equatable {
    /// Keys (relative to the target's root, in key order) at which the key space splits into ranges that held
    /// about equal numbers of keys last time.
    public var cuts: [String] = []
    public init(cuts: [String] = []) { self.cuts = cuts }
}

extension StorageTarget {
    public var keyRangeParallelism: Int { 0 }
    public func list(plan: ListingPlan, _ visit: (StorageObject) throws -> Void) throws { try list(visit) }
    public func read(_ keys: [String], limit: Int, _ each: (String, Data) throws -> Void) throws {
        for key in keys { try each(key, try read(key, limit: limit)) }
    }
}

extension StorageTarget {
    public func stream(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int64 {
        throw DRAuditError("\(location): this target cannot stream objects")
    }
}

public enum TargetFactory {
    public static func make(role: Role, artifacts: SubsystemArtifacts) throws -> StorageTarget {
        let spec = artifacts.target
        switch spec.protocol {
        case "local":
            guard let path = spec.path else {
                throw DRAuditError("\(role.rawValue) target: protocol local needs a path")
            }
            return LocalTarget(root: URL(fileURLWithPath: path))
        case "sftp":
            guard let host = spec.host, !host.isEmpty else {
                throw DRAuditError("\(role.rawValue) target: protocol sftp needs a host")
            }
            var settings = SFTPTarget.Settings(
                host: host, port: spec.port ?? 22, path: spec.path ?? ".",
                credentials: try artifacts.requireCredentials())
            settings.knownHosts = artifacts.config.knownHosts?.path
            settings.hostKeyFingerprint = artifacts.config.hostKeyFingerprint
            settings.timeout = artifacts.config.timeout
            settings.parallel = artifacts.config.parallel ?? settings.parallel
            return SFTPTarget(settings)
        case "objstore":
            let location: S3Location
            do {
                location = try S3Location.from(
                    host: spec.host, path: spec.path, provider: spec.s3Provider, uriStyle: spec.uriStyle,
                    endpointOverride: artifacts.config.endpoint)
            } catch {
                throw DRAuditError("\(role.rawValue) target: \(DRAuditError.oneLine(error))")
            }
            var settings = S3Target.Settings(location: location, credentials: try artifacts.requireCredentials())
            if let ca = artifacts.config.caBundle {
                guard FileManager.default.isReadableFile(atPath: ca.path) else {
                    throw DRAuditError("\(role.rawValue).caBundle \(ca.path) is missing or unreadable")
                }
                settings.caBundle = ca.path
            }
            settings.timeout = artifacts.config.timeout
            settings.parallel = artifacts.config.parallel ?? settings.parallel
            return S3Target(settings)
        default:
            throw DRAuditError(
                "\(role.rawValue) target: protocol '\(spec.protocol)' is not supported (supported: local, sftp, objstore)"
            )
        }
    }
}
