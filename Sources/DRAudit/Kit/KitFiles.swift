import DRAuditCore
import Foundation

/// The DR kit at the edges: what a live cluster scan reads of the objects the kit holds copies of, and the kit's
/// files as the audit loads them. The comparison itself is `Kit.findings` in the core.
enum KitFiles {
    /// The kit's files a subsystem's config names.
    static func files(_ subsystem: Config.Subsystem) -> [URL] {
        [subsystem.baseline, subsystem.secret, subsystem.encryptionSecret].compactMap { $0 }
    }

    /// For each subsystem whose CR is read live (no `cr:` file) and whose config names kit files: the live CR's
    /// DR-relevant fields and a salted digest of each live Secret the kit holds a copy of. Only those Secrets are
    /// read, so the audit's Role needs no more than the kit implies. A Secret that does not exist is recorded as
    /// such; any other failure fails the cluster scan.
    static func readLive(_ config: Config, client: KubeClient) throws -> [Kit.LiveSubsystem] {
        try Role.allCases.compactMap { role -> Kit.LiveSubsystem? in
            guard let subsystem = config.subsystem(role), subsystem.cr == nil, !files(subsystem).isEmpty else {
                return nil
            }
            let document = try client.subsystemCR(role, name: subsystem.crName)
            let cr: SubsystemCR
            do { cr = try SubsystemCR.parse(document, role: role) } catch {
                throw DRAuditError(
                    "\(role.rawValue) CR from \(client.location): \(DRAuditError.oneLine(error))",
                    code: "CLUSTER_UNREACHABLE")
            }
            var secrets: [Kit.LiveSecret] = []
            for (purpose, file, name) in [
                (Kit.Purpose.backup, subsystem.secret, cr.backup.credentials),
                (.encryption, subsystem.encryptionSecret, cr.encryptionSecretName),
            ] {
                guard file != nil, let name else { continue }
                let salt = randomSalt()
                var digest: String?
                if let document = try client.secretIfPresent(name) {
                    do { digest = Kit.digest(try SavedSecret.parse(document).values, salt: salt) } catch {
                        throw DRAuditError(
                            "Secret \(name) from \(client.location): \(DRAuditError.oneLine(error))",
                            code: "CLUSTER_UNREACHABLE")
                    }
                }
                secrets.append(
                    Kit.LiveSecret(purpose: purpose, name: name, salt: salt.base64EncodedString(), digest: digest))
            }
            return Kit.LiveSubsystem(role: role, kind: cr.kind, name: cr.name, fields: cr.drFields, secrets: secrets)
        }
    }

    static func randomSalt() -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The kit as the audit judges it: the saved CRs (already parsed as baselines), each saved Secret digested
    /// under the salt of its live copy, when the kit was saved (its oldest file's time), and what the last live
    /// scan read (`live`: nil without a live cluster). nil when the config names no kit file.
    static func state(
        _ config: Config, baselines: [Role: SubsystemCR], live payloads: [String]?
    ) throws -> Kit.State? {
        let decoder = JSONDecoder()
        let live = try payloads?.map { payload -> Kit.LiveSubsystem in
            do { return try decoder.decode(Kit.LiveSubsystem.self, from: Data(payload.utf8)) } catch {
                throw DRAuditError(
                    "index \(config.database.path): a stored live kit record does not decode; was it edited by hand?")
            }
        }
        var saved: [Kit.Saved] = []
        var oldest: (date: Date, file: URL)?
        for role in Role.allCases {
            guard let subsystem = config.subsystem(role), !files(subsystem).isEmpty else { continue }
            for file in files(subsystem) {
                guard let date = modificationDate(file) else { continue }
                if oldest == nil || date < oldest!.date { oldest = (date, file) }
            }
            let current = live?.first { $0.role == role }
            var secrets: [Kit.SavedSecret] = []
            for (purpose, file) in [(Kit.Purpose.backup, subsystem.secret), (.encryption, subsystem.encryptionSecret)] {
                // An unreadable saved Secret is reported by the deployment checks; here it is not compared.
                guard let file, let secret = try? SavedSecret.parse(Documents.load(file, what: "kit Secret")) else {
                    continue
                }
                let salt = current?.secrets.first { $0.purpose == purpose }.flatMap { Data(base64Encoded: $0.salt) }
                secrets.append(
                    Kit.SavedSecret(
                        purpose: purpose, file: file.lastPathComponent, name: secret.name,
                        digest: salt.map { Kit.digest(secret.values, salt: $0) }))
            }
            saved.append(
                Kit.Saved(
                    role: role, cr: baselines[role], crFile: subsystem.baseline?.lastPathComponent, secrets: secrets))
        }
        guard !saved.isEmpty else { return nil }
        return Kit.State(
            saved: saved, live: live, savedAt: oldest?.date, oldestFile: oldest?.file.lastPathComponent,
            maxAge: config.kitMaxAge)
    }

    static func modificationDate(_ url: URL) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
    }
}
