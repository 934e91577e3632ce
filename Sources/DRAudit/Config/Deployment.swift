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
        case .invalid(let why)?: throw DRAuditError("\(role.rawValue) target: \(why)")
        default: throw DRAuditError("\(role.rawValue) target: no backup Secret configured (\(role.rawValue).secret)")
        }
    }
}

public enum Artifacts {
    /// Reads a subsystem's CR (required: an unreadable CR is an error) and its Secret (problems become findings),
    /// from the saved files, or from the API server for what no file is configured.
    static func load(_ role: Role, config: Config.Subsystem, kube: () throws -> KubeClient?) throws
        -> SubsystemArtifacts
    {
        let cr = try loadCR(role, config: config, kube: kube)
        var baseline: SubsystemCR?
        if let url = config.baseline {
            do {
                baseline = try SubsystemCR.parse(
                    try Documents.load(url, what: "\(role.rawValue) baseline CR"), role: role)
            } catch {
                let message = DRAuditError.oneLine(error)
                throw DRAuditError(
                    message.contains(url.path) ? message : "\(role.rawValue) baseline CR \(url.path): \(message)")
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
                    throw DRAuditError("\(role.rawValue).target.port '\(value)' is not a port")
                }
                target.port = port
            default: break
            }
        }
        var secretState: DeploymentState.SecretState?
        var credentials: BackupCredentials?
        if config.secret == nil, let name = cr.backup.credentials, let client = try kube() {
            do {
                let secret = try SavedSecret.parse(try client.secret(name))
                credentials = try secret.backupCredentials()
                secretState = .valid(name: secret.name)
            } catch {
                secretState = .invalid(
                    "\(role.rawValue) backup Secret \(name) from the API server: \(DRAuditError.oneLine(error))")
            }
        } else if let url = config.secret {
            do {
                let secret = try SavedSecret.parse(try Documents.load(url, what: "\(role.rawValue) backup Secret"))
                do {
                    credentials = try secret.backupCredentials()
                    secretState = .valid(name: secret.name)
                } catch {
                    secretState = .invalid(
                        "\(role.rawValue) backup Secret \(url.lastPathComponent) (\(secret.name)) \(DRAuditError.oneLine(error))"
                    )
                }
            } catch {
                let message = DRAuditError.oneLine(error)
                secretState = .invalid(
                    message.hasPrefix(role.rawValue)
                        ? message : "\(role.rawValue) backup Secret \(url.path): \(message)")
            }
        }
        return SubsystemArtifacts(
            role: role, config: config, cr: cr, baseline: baseline, target: target, secret: secretState,
            credentials: credentials)
    }

    /// The subsystem CR alone: the saved file, or the live object.
    static func loadCR(_ role: Role, config: Config.Subsystem, kube: () throws -> KubeClient?) throws -> SubsystemCR {
        let document: DocumentNode
        let crSource: String
        if let file = config.cr {
            document = try Documents.load(file, what: "\(role.rawValue) CR")
            crSource = file.path
        } else if let client = try kube() {
            document = try client.subsystemCR(role, name: config.crName)
            crSource = "\(client.location) (\(document["metadata", "name"]?.string ?? "?"))"
        } else {
            throw DRAuditError("\(role.rawValue).cr is not configured")
        }
        do { return try SubsystemCR.parse(document, role: role) } catch {
            throw DRAuditError("\(role.rawValue) CR \(crSource): \(DRAuditError.oneLine(error))")
        }
    }

    static func encryptionSecret(
        _ url: URL?, name: String?, role: Role = .portal, kube: () throws -> KubeClient?
    ) -> DeploymentState.EncryptionState {
        if url == nil, let name {
            // Live: the Secret the CR names must exist in the cluster (and be saved elsewhere for a restore).
            guard let client = try? kube() else { return .notGiven }
            do {
                let secret = try SavedSecret.parse(try client.secret(name))
                return .saved(name: secret.name, hasData: secret.values.values.contains { !$0.isEmpty })
            } catch {
                return .unreadable("Secret \(name) from the API server: \(DRAuditError.oneLine(error))")
            }
        }
        guard let url else { return .notGiven }
        do {
            let secret = try SavedSecret.parse(try Documents.load(url, what: "\(role.rawValue) encryption Secret"))
            return .saved(name: secret.name, hasData: secret.values.values.contains { !$0.isEmpty })
        } catch {
            return .unreadable("\(url.lastPathComponent): \(DRAuditError.oneLine(error))")
        }
    }
}
