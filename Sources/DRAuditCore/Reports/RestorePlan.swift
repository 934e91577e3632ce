import Foundation
import Yams

/// The ManagementRestore and PortalRestore CRs for one restorable pair, and the DR procedure around them.
///
/// Every value that comes from storage, a CR or the cluster is emitted by a YAML emitter: in the documents as a
/// double-quoted scalar, in comments as the same with every character outside printable ASCII escaped, so no name
/// can end a comment, start a document or reach the terminal as a control character.
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

    public struct Input: Sendable {
        public var pair: Pair
        public var portalCR: SubsystemCR?
        public var managementCR: SubsystemCR?
        /// The backup CRs from the cluster export or the live API (nil: not configured).
        public var portalRecords: [ClusterRecord]?
        public var managementRecords: [ClusterRecord]?
        public var openFindings: [Finding] = []

        public init(
            pair: Pair, portalCR: SubsystemCR? = nil, managementCR: SubsystemCR? = nil,
            portalRecords: [ClusterRecord]? = nil, managementRecords: [ClusterRecord]? = nil,
            openFindings: [Finding] = []
        ) {
            self.pair = pair
            self.portalCR = portalCR
            self.managementCR = managementCR
            self.portalRecords = portalRecords
            self.managementRecords = managementRecords
            self.openFindings = openFindings
        }
    }

    /// The name of a subsystem CR on the new cluster, and how it was found.
    struct SubsystemName {
        var name: String
        var how: String
    }

    /// A PortalCluster/ManagementCluster is named by its CR. An APIConnectCluster's subsystem CRs are named by the
    /// backup CRs that belong to them where the cluster has them, else by IBM's convention `<name>-ptl`/`-mgmt`.
    static func subsystemName(_ cr: SubsystemCR?, role: Role, records: [ClusterRecord]?) -> SubsystemName {
        guard let cr else { return SubsystemName(name: role.rawValue, how: "no \(role.rawValue) CR configured") }
        guard cr.kind == "APIConnectCluster" else { return SubsystemName(name: cr.name, how: "the \(cr.kind)'s name") }
        let named = Dictionary(grouping: (records ?? []).compactMap(\.cluster), by: { $0 }).max {
            ($0.value.count, $1.key) < ($1.value.count, $0.key)
        }
        if let named {
            return SubsystemName(name: named.key, how: "named by the cluster's \(role.rawValue) backup CRs")
        }
        let suffix = role == .portal ? "-ptl" : "-mgmt"
        return SubsystemName(name: cr.name + suffix, how: "IBM's convention for APIConnectCluster \(q(cr.name))")
    }

    public static func render(_ input: Input) throws -> String {
        let pair = input.pair
        let portal = subsystemName(input.portalCR, role: .portal, records: input.portalRecords)
        let management = subsystemName(input.managementCR, role: .management, records: input.managementRecords)
        let namespace =
            [input.managementCR?.namespace, input.portalCR?.namespace].compactMap { $0 }
            .first(where: isDNSLabel) ?? "<namespace>"

        var out = "# dr-audit restore plan for the pair restoring to \(UTC.rfc3339(pair.restorePoint))\n"
        let recovery =
            pair.recovery == .pitr
            ? "point-in-time recovery to \(UTC.rfc3339(pair.point)) over archived WAL, from"
            : "backup"
        out += "#   management: \(recovery) \(q(pair.management.id)) (\(pair.management.type), stopped "
        out += "\(UTC.rfc3339(pair.management.time)))\n"
        out += "#   portal run \(UTC.rfc3339(pair.run.start)) to \(UTC.rfc3339(pair.run.end))"
        out += "\(pair.run.isScheduled ? "" : " (manual)"), skew \(DurationText.format(pair.skew))\n#\n"
        out += "# The new installation must carry these values (IBM API Connect v10 disaster recovery):\n"
        var topLevel: Set<String> = []
        for (role, cr, name) in [(Role.management, input.managementCR, management), (.portal, input.portalCR, portal)] {
            out += values(role, cr: cr, name: name)
            if let cr, cr.kind == "APIConnectCluster" { topLevel.insert(cr.name) }
        }
        let known = [input.managementCR, input.portalCR].compactMap { $0 }
        let install =
            topLevel.isEmpty
            ? "create the subsystem CRs with the names, spec.originalUID and Secrets above"
            : "create the APIConnectCluster \(topLevel.sorted().map(q).joined(separator: ", ")) with the "
                + "spec.<subsystem>.originalUID and Secrets above (its operator names the subsystem CRs)"
        let alike =
            known.contains { !$0.endpoints.isEmpty }
            ? "same version, deployment profile and endpoints as above"
            : "same version and deployment profile as above"
        out += """
            #
            # Steps:
            #   1. Install with the \(alike);
            #      \(install).
            #   2. Re-apply the saved backup credential Secrets and the management and portal encryption Secrets.
            #   3. Create the ManagementRestore below (kubectl create -n \(namespace) -f <file>) and wait until its
            #      status.phase is Complete:  kubectl get managementrestores -n \(namespace) -w
            #      then until the management subsystem is Running:  kubectl get managementclusters -n \(namespace) -w

            """
        out += """
            #   4. Wait until the portal's backup records of the files below exist on the new cluster and are Ready
            #      (the operator recreates them from the remote storage about every 10 minutes):
            #        kubectl get portalbackups -n \(namespace) -o custom-columns=NAME:.metadata.name,FILE:.status.fullBackupName,PHASE:.status.phase
            #   5. Straight after, create the PortalRestore for the system backup, then one per site, each once the
            #      one before it is Ready:  kubectl get portalrestores -n \(namespace) -w
            #   6. Check the portal sites and the management UI; then take new backups of both.

            """
        let open = input.openFindings.filter { $0.severity != .info }
        if open.isEmpty {
            out += "# Checks still failing: none\n"
        } else {
            out += "# Checks still failing (dr-audit audit):\n"
            for f in open { out += "#   \(f.severity.rawValue) \(f.code): \(q(f.message))\n" }
        }
        out += try managementRestore(
            pair, name: management.name, namespace: namespace, spec: input.managementCR?.backup,
            records: input.managementRecords)
        if let system = pair.run.system {
            out +=
                "---\n"
                + (try portalRestore(
                    type: "system", key: "systemName", file: system.fileName, portal: portal.name, suffix: "system"))
        }
        for (index, file) in pair.run.siteFiles.enumerated() {
            out +=
                "---\n# site \(q(file.site ?? ""))\n"
                + (try portalRestore(
                    type: "site", key: "siteName", file: file.fileName, portal: portal.name, suffix: "site-\(index + 1)"
                ))
        }
        return out
    }

    /// The lines naming what one subsystem's new CR must carry.
    static func values(_ role: Role, cr: SubsystemCR?, name: SubsystemName) -> String {
        let missing = "(not in the saved CR)"
        guard let cr else { return "#   \(role.rawValue) CR: name \(q(name.name)) (\(name.how))\n" }
        var out: String
        let uidField: String
        if cr.kind == "APIConnectCluster" {
            out = "#   \(role.rawValue): APIConnectCluster \(q(cr.name)), subsystem CR \(q(name.name)) (\(name.how))\n"
            uidField = "spec.\(role.rawValue).originalUID"
        } else {
            out = "#   \(role.rawValue): \(cr.kind) \(q(name.name)) (\(name.how))\n"
            uidField = "spec.originalUID"
        }
        out += "#     spec.version \(cr.version.map(q) ?? missing)\n"
        // The subsystem CR's own UID: an APIConnectCluster's metadata.uid is not it.
        let subsystemKind = role == .portal ? "PortalCluster" : "ManagementCluster"
        let uid =
            cr.originalUID.map(q)
            ?? (cr.kind == "APIConnectCluster"
                ? "(not in the saved CR: the metadata.uid of the old cluster's \(subsystemKind) \(q(name.name)))"
                : cr.uid.map { "\(q($0)) (its metadata.uid)" } ?? missing)
        out += "#     \(uidField) \(uid)\n"
        out += "#     backup credential Secret \(cr.backup.credentials.map(q) ?? missing)"
        out += ", encryption Secret \(cr.encryptionSecretName.map(q) ?? missing)\n"
        if !cr.endpoints.isEmpty {
            out += "#     endpoints (unchanged): \(cr.endpoints.sorted().map(q).joined(separator: ", "))\n"
        }
        return out
    }

    static func managementRestore(
        _ pair: Pair, name: String, namespace: String, spec: BackupSpec?, records: [ClusterRecord]?
    ) throws -> String {
        let backup = pair.management
        switch backup.format {
        case .pgbackrest:
            var comment = ""
            let backupName: String
            let find = """
                kubectl get managementbackups -n \(namespace) -o jsonpath='{range .items[?(@.status.id=="\(backup.id)")]}{.metadata.name}{" "}{.status.phase}{"\\n"}{end}'
                """
            if let record = records?.first(where: {
                $0.kind == .managementBackup && $0.objectName == backup.id && $0.verdict == .ready
            }) {
                backupName = record.name
                comment = """
                    # backupName is the ManagementBackup of \(q(backup.id)) on the old cluster. A rebuilt cluster makes
                    # new records: use the name of the Ready one this shows on the new cluster:
                    #   \(find)

                    """
            } else {
                // Deliberately not a valid name: the CR must be filled in before it can be applied.
                backupName = "<ManagementBackup whose status.id is \(backup.id)>"
                comment = """
                    # No cluster export names the ManagementBackup of \(q(backup.id)); find the Ready one on the new cluster:
                    #   \(find)

                    """
            }
            // pitrTarget always: a backup point's stop time plus one second, so replay never runs past the pair.
            let target = UTC.format(pair.pitrTarget ?? pair.point, "YYYY-MM-DD hh:mm:ss+00")
            return "---\n" + comment
                + (try document([
                    ("apiVersion", plain("management.apiconnect.ibm.com/v1beta1")),
                    ("kind", plain("ManagementRestore")),
                    ("metadata", map([("generateName", quoted("\(name)-restore-"))])),
                    ("spec", map([("backupName", quoted(backupName)), ("pitrTarget", quoted(target))])),
                ]))
        case .barman:
            let parts = backup.id.split(separator: "/")
            let server = parts.dropLast().joined(separator: "/")
            let backupID = String(parts.last ?? "")
            var section: [(String, Node)] = [("protocol", quoted(spec?.protocol ?? "objstore"))]
            if let host = spec?.host { section.append(("host", quoted(host))) }
            if let port = spec?.port { section.append(("port", plain(String(port)))) }
            let path = [spec?.path, server].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
            section.append(("path", quoted(path)))
            if let credentials = spec?.credentials { section.append(("credentials", quoted(credentials))) }
            // For a custom S3 (IBM's DR script copies them too).
            if let certs = spec?.backupCerts { section.append(("backupCerts", quoted(certs))) }
            if let style = spec?.uriStyle { section.append(("backups3URIStyle", quoted(style))) }
            return "---\n"
                + (try document([
                    ("apiVersion", plain("management.apiconnect.ibm.com/v1beta1")),
                    ("kind", plain("ManagementRestore")),
                    (
                        "metadata",
                        map([
                            ("generateName", quoted("\(name)-restore-")),
                            ("annotations", map([("apiconnect-operator/management-db", plain("edb"))])),
                        ])
                    ),
                    (
                        "spec",
                        map([
                            ("subsystemName", quoted(name)), ("backupId", quoted(backupID)), ("backup", map(section)),
                        ])
                    ),
                ]))
        }
    }

    static func portalRestore(type: String, key: String, file: String, portal: String, suffix: String) throws -> String
    {
        try document([
            ("apiVersion", plain("portal.apiconnect.ibm.com/v1beta1")),
            ("kind", plain("PortalRestore")),
            ("metadata", map([("generateName", quoted("\(portal)-restore-\(suffix)-"))])),
            ("spec", map([("type", plain(type)), ("portalCluster", quoted(portal)), (key, quoted(file))])),
        ])
    }

    // MARK: - YAML

    static func plain(_ text: String) -> Node { .scalar(.init(text, .implicit, .plain)) }
    static func quoted(_ text: String) -> Node { .scalar(.init(text, .implicit, .doubleQuoted)) }
    static func map(_ pairs: [(String, Node)]) -> Node { .mapping(.init(pairs.map { (plain($0.0), $0.1) })) }

    /// One YAML document, emitted by libyaml (through Yams): printable ASCII only, no line folding.
    static func document(_ pairs: [(String, Node)]) throws -> String {
        try Yams.serialize(node: map(pairs), width: -1, allowUnicode: false)
    }

    /// A value for a comment line: a double-quoted YAML scalar in printable ASCII (line breaks, control, bidi
    /// and every other non-ASCII character escaped), so it can neither end the comment nor reach a terminal raw.
    public static func q(_ text: String) -> String {
        let emitted = (try? Yams.serialize(node: quoted(text), width: -1, allowUnicode: false)) ?? "\"\""
        var line = emitted.hasSuffix("\n") ? String(emitted.dropLast()) : emitted
        if line.hasPrefix("--- ") { line.removeFirst(4) }
        // The emitter only ever writes printable ASCII here; be sure of it, whatever a future version does.
        guard line.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return "\"<unprintable>\"" }
        return line
    }

    static func isDNSLabel(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 63
            && text.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
            && text.first != "-" && text.last != "-"
    }
}
