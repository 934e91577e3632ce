import Foundation

/// The ManagementRestore and PortalRestore CRs for one restorable pair, and the DR procedure around them.
public enum RestorePlan {
    public enum PlanError: Error, Equatable, CustomStringConvertible {
        case noPairs
        case noPairAtOrBefore(Date)
        public var description: String {
            switch self {
            case .noPairs: return "there is no restorable pair to restore (run dr-audit audit to see why)"
            case .noPairAtOrBefore(let t):
                return "no restorable pair has a restore point at or before \(UTC.rfc3339(t))"
            }
        }
    }

    /// `nil` chooses the newest pair; a time chooses the newest pair whose restore point is not after it.
    public static func choose(_ pairs: [Pair], at: Date?) throws -> Pair {
        guard !pairs.isEmpty else { throw PlanError.noPairs }
        guard let at else { return pairs.max { $0.restorePoint < $1.restorePoint }! }
        guard let pair = pairs.filter({ $0.restorePoint <= at }).max(by: { $0.restorePoint < $1.restorePoint }) else {
            throw PlanError.noPairAtOrBefore(at)
        }
        return pair
    }

    public static func render(
        pair: Pair, portalCR: SubsystemCR?, managementCR: SubsystemCR?,
        managementRecords: [ClusterRecord]?, openFindings: [Finding]
    ) -> String {
        let portalName = portalCR?.name ?? "portal"
        let managementName = managementCR?.name ?? "management"
        var out = """
            # dr-audit restore plan for the pair restoring to \(UTC.rfc3339(pair.restorePoint))
            # management \(pair.management.id) (\(pair.management.type)), portal run \(UTC.rfc3339(pair.run.start)) to \(UTC.rfc3339(pair.run.end)), skew \(DurationText.format(pair.skew))
            #
            # Procedure (IBM API Connect v10 disaster recovery):
            #   1. Install the same version, fix pack, deployment profile and endpoints; use the same CR names and set
            #      spec.originalUID to the backed-up system's UID.
            #   2. Re-apply the saved backup credential Secrets and the portal and management encryption Secrets.
            #   3. Apply the ManagementRestore below and wait until it is Ready.
            #   4. Immediately after, apply the PortalRestore for the system backup, then one per site, waiting for each.
            #   5. Check the portal sites and the management UI; then take new backups of both.

            """
        let open = openFindings.filter { $0.severity != .info }
        if open.isEmpty {
            out += "# Checks still failing: none\n"
        } else {
            out += "# Checks still failing (dr-audit audit):\n"
            for f in open {
                out += "#   \(f.severity.rawValue) \(f.code): \(f.message.replacingOccurrences(of: "\n", with: " "))\n"
            }
        }
        out +=
            "---\n"
            + managementRestore(
                pair.management, managementName: managementName, spec: managementCR?.backup,
                records: managementRecords)
        if let system = pair.run.system {
            out +=
                "---\n"
                + portalRestore(
                    type: "system", key: "systemName", file: system.fileName, portalName: portalName, suffix: "system")
        }
        for (index, file) in pair.run.siteFiles.enumerated() {
            out +=
                "---\n"
                + portalRestore(
                    type: "site", key: "siteName", file: file.fileName, portalName: portalName,
                    suffix: "site-\(index + 1)", comment: "site \(file.site ?? "")")
        }
        return out
    }

    static func managementRestore(
        _ backup: ManagementBackup, managementName: String, spec: BackupSpec?, records: [ClusterRecord]?
    ) -> String {
        switch backup.format {
        case .pgbackrest:
            let record = records?.first {
                $0.kind == .managementBackup && $0.objectName == backup.id && $0.verdict == .ready
            }
            let name: String
            if let record {
                name = quote(record.name)
            } else {
                // Deliberately not a valid name: the CR must be filled in before it can be applied.
                name =
                    "\"<ManagementBackup whose status.id is \(backup.id)>\"  # no cluster export names it: kubectl get mgmtb"
            }
            return """
                apiVersion: management.apiconnect.ibm.com/v1beta1
                kind: ManagementRestore
                metadata:
                  generateName: \(managementName)-restore-
                spec:
                  backupName: \(name)

                """
        case .barman:
            let parts = backup.id.split(separator: "/")
            let server = parts.dropLast().joined(separator: "/")
            let backupID = String(parts.last ?? "")
            var lines = """
                apiVersion: management.apiconnect.ibm.com/v1beta1
                kind: ManagementRestore
                metadata:
                  generateName: \(managementName)-restore-
                  annotations:
                    apiconnect-operator/management-db: edb
                spec:
                  subsystemName: \(quote(managementName))
                  backupId: \(quote(backupID))
                  backup:

                """
            lines += "    protocol: \(quote(spec?.protocol ?? "objstore"))\n"
            if let host = spec?.host { lines += "    host: \(quote(host))\n" }
            if let port = spec?.port { lines += "    port: \(port)\n" }
            let path = [spec?.path, server].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
            lines += "    path: \(quote(path))\n"
            if let credentials = spec?.credentials { lines += "    credentials: \(quote(credentials))\n" }
            return lines
        }
    }

    static func portalRestore(
        type: String, key: String, file: String, portalName: String, suffix: String, comment: String? = nil
    ) -> String {
        """
        apiVersion: portal.apiconnect.ibm.com/v1beta1
        kind: PortalRestore
        metadata:
          generateName: \(portalName)-restore-\(suffix)-\(comment.map { "\n  # \($0)" } ?? "")
        spec:
          type: \(type)
          portalCluster: \(quote(portalName))
          \(key): \(quote(file))

        """
    }

    /// YAML double-quoted scalar.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\x%02X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
