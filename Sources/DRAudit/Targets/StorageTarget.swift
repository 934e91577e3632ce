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
            return S3Target(settings)
        default:
            throw DRAuditError(
                "\(role.rawValue) target: protocol '\(spec.protocol)' is not supported (supported: local, sftp, objstore)"
            )
        }
    }
}
