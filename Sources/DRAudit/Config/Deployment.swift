import DRAuditCore
import Foundation

/// The operator's saved artifacts for one subsystem: its CR, the backup target it names, its credentials.
public struct SubsystemArtifacts: Sendable {
    public var role: Role
    public var config: Config.Subsystem
    public var cr: SubsystemCR
    /// The saved original CR (config `baseline`), when given.
    public var baseline: SubsystemCR?
    /// The CR's backup spec with the config's `target` overrides applied.
    public var target: BackupSpec
    public var secret: DeploymentState.SecretState?
    /// Only present when the Secret parsed; never logged.
    public var credentials: BackupCredentials?

    /// The credentials a remote target needs, or an error that says why they are unusable.
    public func requireCredentials() throws -> BackupCredentials {
        if let credentials { return credentials }
        switch secret {
        case let .invalid(why)?: throw DRAuditError("\(role.rawValue) target: \(why)")
        default: throw DRAuditError("\(role.rawValue) target: no backup Secret configured (\(role.rawValue).secret)")
        }
    }
}

public enum Artifacts {
    /// Reads a subsystem's CR (required: an unreadable CR is an error) and its Secret (problems become findings).
    public static func load(_ role: Role, config: Config.Subsystem) throws -> SubsystemArtifacts {
        let document = try Documents.load(config.cr, what: "\(role.rawValue) CR")
        let cr: SubsystemCR
        do { cr = try SubsystemCR.parse(document, role: role) } catch {
            throw DRAuditError("\(role.rawValue) CR \(config.cr.path): \(DRAuditError.oneLine(error))")
        }
        var baseline: SubsystemCR?
        if let url = config.baseline {
            do { baseline = try SubsystemCR.parse(try Documents.load(url, what: "\(role.rawValue) baseline CR"), role: role) } catch {
                let message = DRAuditError.oneLine(error)
                throw DRAuditError(message.contains(url.path) ? message : "\(role.rawValue) baseline CR \(url.path): \(message)")
            }
        }
        var target = cr.backup
        for (key, value) in config.target {
            switch key {
            case "protocol": target.protocol = value
            case "host": target.host = value
            case "path": target.path = value
            case "port":
                guard let port = Int(value), (1...65535).contains(port) else {
                    throw DRAuditError("\(config.cr.lastPathComponent): \(role.rawValue).target.port '\(value)' is not a port")
                }
                target.port = port
            default: break
            }
        }
        var secretState: DeploymentState.SecretState?
        var credentials: BackupCredentials?
        if let url = config.secret {
            do {
                let secret = try SavedSecret.parse(try Documents.load(url, what: "\(role.rawValue) backup Secret"))
                do {
                    credentials = try secret.backupCredentials()
                    secretState = .valid(name: secret.name)
                } catch {
                    secretState = .invalid("\(role.rawValue) backup Secret \(url.lastPathComponent) (\(secret.name)) \(DRAuditError.oneLine(error))")
                }
            } catch {
                let message = DRAuditError.oneLine(error)
                secretState = .invalid(message.hasPrefix(role.rawValue) ? message : "\(role.rawValue) backup Secret \(url.path): \(message)")
            }
        }
        return SubsystemArtifacts(role: role, config: config, cr: cr, baseline: baseline, target: target, secret: secretState, credentials: credentials)
    }

    public static func encryptionSecret(_ url: URL?) -> DeploymentState.EncryptionState {
        guard let url else { return .notGiven }
        do {
            let secret = try SavedSecret.parse(try Documents.load(url, what: "portal encryption Secret"))
            return .saved(name: secret.name, hasData: secret.values.values.contains { !$0.isEmpty })
        } catch {
            return .unreadable("\(url.lastPathComponent): \(DRAuditError.oneLine(error))")
        }
    }
}
