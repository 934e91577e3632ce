import Foundation

public enum Severity: String, Codable, Sendable, Comparable {
    case info, warn, fail
    private var rank: Int { self == .info ? 0 : self == .warn ? 1 : 2 }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

public struct Finding: Hashable, Codable, Sendable {
    public var code: String
    public var severity: Severity
    public var subject: String
    public var message: String

    public init(_ code: String, _ severity: Severity, _ subject: String, _ message: String) {
        self.code = code
        self.severity = severity
        self.subject = subject
        self.message = message
    }
}

/// The overall verdict and its Nagios-style exit code.
public enum AuditStatus: String, Codable, Sendable {
    case ok, warn, fail
    public var exitCode: Int32 { self == .ok ? 0 : self == .warn ? 1 : 2 }
    public init(_ findings: [Finding]) {
        let worst = findings.map(\.severity).max() ?? .info
        self = worst == .fail ? .fail : worst == .warn ? .warn : .ok
    }
}

/// The last scan of one source, as the index remembers it.
public struct SourceState: Hashable, Sendable {
    public var source: String
    public var location: String
    public var lastScanAt: Date?
    public var ok: Bool
    public var errorCode: String?
    public var error: String?
    public init(
        source: String, location: String, lastScanAt: Date?, ok: Bool, errorCode: String? = nil, error: String? = nil
    ) {
        self.source = source
        self.location = location
        self.lastScanAt = lastScanAt
        self.ok = ok
        self.errorCode = errorCode
        self.error = error
    }
}

/// What the operator's saved artifacts say, with each problem already put into words by the loader.
public struct DeploymentState: Sendable {
    public enum SecretState: Sendable {
        case valid(name: String)
        case invalid(String)
    }
    public enum EncryptionState: Sendable {
        case notGiven
        case unreadable(String)
        case saved(name: String, hasData: Bool)
    }
    public var portalCR: SubsystemCR?
    public var managementCR: SubsystemCR?
    public var portalSecret: SecretState?
    public var managementSecret: SecretState?
    public var encryptionSecret: EncryptionState = .notGiven
    /// The management CR's encryption Secret (config `management.encryptionSecret`), checked when the CR sets one.
    public var managementEncryptionSecret: EncryptionState = .notGiven
    /// The CRs as saved when the backups were taken (config `baseline:`), to compare against.
    public var portalBaseline: SubsystemCR?
    public var managementBaseline: SubsystemCR?
    public init(
        portalCR: SubsystemCR? = nil, managementCR: SubsystemCR? = nil, portalSecret: SecretState? = nil,
        managementSecret: SecretState? = nil, encryptionSecret: EncryptionState = .notGiven
    ) {
        self.portalCR = portalCR
        self.managementCR = managementCR
        self.portalSecret = portalSecret
        self.managementSecret = managementSecret
        self.encryptionSecret = encryptionSecret
    }
}

public struct AuditInput: Sendable {
    public var now: Date
    public var policy: PairingPolicy
    public var portal = PortalInventory()
    /// The portal inventory as files (small inputs and tests).
    public var portalFiles: [PortalBackupFile] {
        get { portal.files }
        set { portal = PortalInventory(newValue) }
    }
    public var managementBackups: [ManagementBackup] = []
    /// The management target's archived WAL segments.
    public var wal = WALInventory()
    public var unrecognized: [UnrecognizedObject] = []
    /// Management metadata files (backup.info, backup.manifest) of zero bytes.
    public var emptyMetadata: [UnrecognizedObject] = []
    /// nil when no export was configured (no cross-check), [] when the cluster has none.
    public var portalRecords: [ClusterRecord]?
    public var managementRecords: [ClusterRecord]?
    public var sources: [SourceState] = []
    public var deployment = DeploymentState()
    /// The DR kit and what the last scan read of the live cluster; nil when the config names no kit.
    public var kit: Kit.State?
    /// The latest `verify` results: a failed object is left out like one a Failed backup CR names.
    public var verification = VerificationEvidence()

    public init(now: Date, policy: PairingPolicy) {
        self.now = now
        self.policy = policy
    }
}

public struct Assessment: Sendable {
    public var pairing: PairingResult
    public var management: ManagementState
    public var findings: [Finding]
    /// When the DR kit was last saved (its oldest file), for the report and metrics; nil without a kit.
    public var kitSavedAt: Date? = nil
    public var status: AuditStatus { AuditStatus(findings) }
}

public enum Audit {
    public static func assess(_ input: AuditInput) -> Assessment {
        let recordFailedPortal = Set(
            (input.portalRecords ?? []).filter { $0.verdict == .failed }.compactMap(\.objectName))
        let recordFailedManagement = Set(
            (input.managementRecords ?? []).filter { $0.verdict == .failed }.compactMap(\.objectName))
        // An object whose latest verification failed is left out as if a Failed CR named it.
        let failedPortal = recordFailedPortal.union(input.verification.failedPortalFileNames)
        let failedManagement = recordFailedManagement.union(input.verification.failedManagement)
        let unreadable = input.verification.unreadableWAL
        func pair(_ portal: Set<String>, _ contradicted: Set<String>, verified: Bool) -> (
            ManagementState, PairingResult
        ) {
            let usablePortal = input.portal.excluding(fileNames: portal)
            let management = Restorability.assess(
                input.managementBackups, wal: verified ? input.verification.readableWAL ?? input.wal : input.wal,
                contradicted: contradicted, unreadable: verified ? unreadable : [])
            return (management, Pairing.pair(portal: usablePortal, management: management, policy: input.policy))
        }
        let (management, pairing) = pair(failedPortal, failedManagement, verified: true)
        // The pair a restore would have used without the verification results: a failure in it is the worst kind.
        let unverified =
            failedPortal.count == recordFailedPortal.count && failedManagement.count == recordFailedManagement.count
                && input.verification.readableWAL == nil
            ? pairing : pair(recordFailedPortal, recordFailedManagement, verified: false).1

        var findings: [Finding] = []
        findings += sourceFindings(input)
        findings += pairFindings(input, pairing)
        findings += portalFindings(
            pairing, runGap: input.policy.runGap,
            leftOut: leftOutReasons(records: recordFailedPortal, verification: input.verification.failedPortalFileNames)
        )
        findings += pairing.unpairedManagement.map {
            Finding(
                "UNPAIRED_BACKUP", .info, "management \($0.id)",
                "restorable management \($0.id) (\(UTC.rfc3339($0.time))) has no complete portal run within \(DurationText.format(input.policy.tolerance))"
            )
        }
        findings += pairing.unpairedRuns.map {
            Finding(
                "UNPAIRED_BACKUP", .info, "portal run \(UTC.rfc3339($0.start))",
                "complete portal run \(UTC.rfc3339($0.start)) has no restorable management backup within \(DurationText.format(input.policy.tolerance))"
            )
        }
        findings += managementFindings(input, management)
        findings += Verification.findings(
            input.verification, now: input.now, newest: pairing.pairs.first, baselineNewest: unverified.pairs.first,
            managementBackups: input.managementBackups)
        findings += SizeDrop.findings(portal: input.portal, management: input.managementBackups)
        findings += crossCheckFindings(input)
        findings += deploymentFindings(input)
        findings += siteHostFindings(input.deployment.portalCR, pairing)
        if let kit = input.kit { findings += Kit.findings(kit, now: input.now) }
        findings += input.unrecognized.map { object in
            let what =
                object.special.map { ", which is \($0.description), not a backup; indexed, never followed" }
                ?? " (\(object.size) bytes), which is not a known backup name; kept in the index"
            return Finding(
                "UNRECOGNIZED_OBJECT", .warn, object.key, "\(object.role.rawValue) target holds \(object.key)\(what)")
        }
        findings += input.emptyMetadata.map {
            Finding("OBJECT_EMPTY", .warn, $0.key, "\($0.role.rawValue) metadata file \($0.key) is empty")
        }
        findings.sort { ($1.severity, $0.code, $0.subject) < ($0.severity, $1.code, $1.subject) }
        return Assessment(pairing: pairing, management: management, findings: findings, kitSavedAt: input.kit?.savedAt)
    }

    static func sourceFindings(_ input: AuditInput) -> [Finding] {
        input.sources.compactMap { s in
            guard let at = s.lastScanAt else {
                return Finding(
                    "TARGET_NOT_SCANNED", .fail, s.source,
                    "\(s.source) (\(s.location)) has never been scanned: run dr-audit scan")
            }
            guard !s.ok else { return nil }
            return Finding(
                s.errorCode ?? "TARGET_UNREACHABLE", .fail, s.source,
                "last \(s.source) scan (\(UTC.rfc3339(at))) of \(s.location) failed: \(s.error ?? "unknown error")")
        }
    }

    static func pairFindings(_ input: AuditInput, _ pairing: PairingResult) -> [Finding] {
        guard let newest = pairing.pairs.first else {
            return [
                Finding(
                    "NO_RESTORABLE_PAIR", .fail, "pairs",
                    "no restorable management backup lies within \(DurationText.format(input.policy.tolerance)) of a complete portal run"
                )
            ]
        }
        let age = input.now.timeIntervalSince(newest.restorePoint)
        guard age > input.policy.rpo else { return [] }
        return [
            Finding(
                "RPO_EXCEEDED", .fail, UTC.rfc3339(newest.restorePoint),
                "newest restorable pair is \(DurationText.format(age)) old, over the RPO of \(DurationText.format(input.policy.rpo))"
            )
        ]
    }

    /// Portal files left out of the runs, by name: why (a Failed backup CR, or a failed verification).
    static func leftOut(_ names: Set<String>, _ why: String) -> [(file: PortalFileName, why: String)] {
        names.compactMap { name in PortalFileName.parse(name).map { ($0, why) } }
    }

    static func leftOutReasons(records: Set<String>, verification: Set<String>) -> [(file: PortalFileName, why: String)]
    {
        leftOut(verification, "failed verification")
            + leftOut(records.subtracting(verification), "is marked Failed in the cluster")
    }

    static func portalFindings(
        _ pairing: PairingResult, runGap: TimeInterval, leftOut: [(file: PortalFileName, why: String)] = []
    ) -> [Finding] {
        var findings: [Finding] = []
        for run in pairing.incompleteRuns {
            let subject = "portal run \(UTC.rfc3339(run.start))"
            // A file that was there but is left out would have belonged to the run: say so, not "no backup".
            func why(_ site: String?) -> String? {
                leftOut.first {
                    $0.file.site == site && $0.file.time >= run.start.addingTimeInterval(-runGap)
                        && $0.file.time <= run.end.addingTimeInterval(runGap)
                }?.why
            }
            if run.system == nil {
                let detail = why(nil).map { "'s system backup \($0)" } ?? " has no system backup"
                findings.append(Finding("PORTAL_SYSTEM_MISSING", .warn, subject, "\(subject)\(detail)"))
            }
            for site in run.missingSites {
                let detail = why(site).map { "'s backup of site \(site) \($0)" } ?? " has no backup of site \(site)"
                findings.append(Finding("PORTAL_SITE_MISSING", .warn, site, "\(subject)\(detail)"))
            }
        }
        for run in pairing.manualRuns {
            let subject = "portal run \(UTC.rfc3339(run.start))"
            let what = [run.system == nil ? nil : "the system", run.siteCount == 0 ? nil : "\(run.siteCount) site(s)"]
                .compactMap { $0 }.joined(separator: " and ")
            findings.append(
                Finding(
                    "PORTAL_MANUAL_BACKUP", .info, subject,
                    "\(subject) is a manual backup (\(what), not started by the portal's schedule); it is not judged "
                        + (run.isComplete ? "for completeness, and it is complete" : "for completeness")))
        }
        for run in pairing.runs {
            for file in run.emptyFiles {
                findings.append(
                    Finding("OBJECT_EMPTY", .warn, file.key, "portal backup \(file.key) is empty (0 bytes)"))
            }
        }
        for stopped in pairing.stoppedSites {
            findings.append(
                Finding(
                    "PORTAL_SITE_STOPPED", .warn, stopped.site,
                    "site \(stopped.site) was last backed up in the run of \(UTC.rfc3339(stopped.lastRun)); if the site "
                        + "was deleted, list it in portal.retiredSites"))
        }
        return findings
    }

    static func managementFindings(_ input: AuditInput, _ state: ManagementState) -> [Finding] {
        let unreadable = input.verification.unreadableWAL
        var findings: [Finding] = state.backups.compactMap { b in
            let subject = "management \(b.id)"
            switch b.status {
            case .failed:
                return Finding("BACKUP_FAILED", .warn, subject, "\(subject) failed: \(b.detail ?? "error recorded")")
            case .incomplete:
                return Finding(
                    "MGMT_BACKUP_INCOMPLETE", .warn, subject,
                    "\(subject) is incomplete: \(b.detail ?? "metadata missing")")
            case .complete:
                if let missing = state.walMissing[b.id], let range = b.wal {
                    let archive = range.archive ?? "its archive"
                    let unreadable = unreadable.contains(WALPosition(archive: archive, segment: missing))
                    return Finding(
                        "MGMT_WAL_MISSING", .warn, subject,
                        "\(subject) cannot be restored: WAL segment \(missing.name) of its consistency range "
                            + "\(range.start.name)…\(range.stop.name) "
                            + (unreadable ? "in \(archive) failed verification" : "is not in \(archive)"))
                }
                // Its own Failed cluster record is reported by the cross-check; here the prior chain counts.
                guard let problem = state.problems[b.id], b.prior != nil, !state.contradicted.contains(b.id) else {
                    return nil
                }
                return Finding(
                    "MGMT_CHAIN_BROKEN", .warn, subject, "\(subject) (\(b.type)) cannot be restored: \(problem)")
            }
        }
        for gap in state.gaps {
            let failed = unreadable.filter {
                $0.archive == gap.archive && $0.segment.timeline == gap.lastBefore.timeline
                    && $0.segment > gap.lastBefore && $0.segment < gap.firstAfter
            }.sorted()
            let hole =
                failed.isEmpty
                ? "a hole" : "a hole (\(failed.map(\.segment.name).joined(separator: ", ")) failed verification)"
            findings.append(
                Finding(
                    "MGMT_WAL_GAP", .warn, "\(gap.archive) \(gap.lastBefore.name)",
                    "WAL archive \(gap.archive) has \(hole) after \(gap.lastBefore.name) (archived "
                        + "\(UTC.rfc3339(gap.lastBeforeTime))) up to \(gap.firstAfter.name) (archived "
                        + "\(UTC.rfc3339(gap.firstAfterTime))): point-in-time recovery from "
                        + "\(gap.backups.joined(separator: ", ")) ends at \(UTC.rfc3339(gap.lastBeforeTime))"))
        }
        let unchecked = state.walUnchecked
        if !unchecked.isEmpty {
            findings.append(
                Finding(
                    "MGMT_WAL_UNCHECKED", .info, "management",
                    "\(unchecked.count) management \(unchecked.count == 1 ? "backup was" : "backups were") judged "
                        + "without their consistency WAL, as their metadata names no WAL range or no archive for it: "
                        + Self.named(unchecked.map(\.id), limit: 20)))
        }
        return findings
    }

    /// `ids` joined, the first `limit` of them and then how many more.
    static func named(_ ids: [String], limit: Int) -> String {
        ids.count <= limit
            ? ids.joined(separator: ", ")
            : ids.prefix(limit).joined(separator: ", ") + " and \(ids.count - limit) more"
    }

    static func crossCheckFindings(_ input: AuditInput) -> [Finding] {
        var findings: [Finding] = []
        /// Records and objects meet by `key`: what a record's object name means on the target (`recordKey`) and
        /// what each object is (`objectKey`). Only findings build an object's name.
        func check<Object, Key: Hashable>(
            _ records: [ClusterRecord]?, objects: [Object], objectKey: (Object) -> Key,
            recordKey: (String) -> Key?, name: (Object) -> String, time: (Object) -> Date,
            what: String
        ) {
            guard let records else { return }
            let present = Set(objects.map(objectKey))
            var described: Set<Key> = []
            for r in records {
                let subject = "\(r.kind.rawValue)/\(r.name)"
                if let key = r.objectName.flatMap(recordKey) { described.insert(key) }
                switch r.verdict {
                case .failed:
                    findings.append(
                        Finding(
                            "BACKUP_FAILED", .warn, subject,
                            "\(subject) is \(r.phase?.lowercased() == "failed" ? "Failed" : "in phase \(r.phase ?? "Failed")")\(r.objectName.map { " (\($0))" } ?? ""); not counted as restorable"
                        ))
                case .ready:
                    if let name = r.objectName, !(recordKey(name).map(present.contains) ?? false) {
                        findings.append(
                            Finding(
                                "CR_WITHOUT_OBJECT", .warn, subject,
                                "\(subject) is Ready but \(name) is not on the \(what) target; it cannot be restored"))
                    }
                case .pending: break
                }
            }
            for object in objects
            where input.now.timeIntervalSince(time(object)) > input.policy.recordGrace
                && !described.contains(objectKey(object))
            {
                let name = name(object)
                findings.append(
                    Finding("OBJECT_WITHOUT_CR", .warn, name, "\(what) backup \(name) has no backup CR in the cluster"))
            }
        }
        // Portal files meet records by identity (site and time), so a million of them need no names.
        let portal = input.portal
        check(
            input.portalRecords, objects: portal.entries, objectKey: portal.identity,
            recordKey: portal.identity(ofFileName:),
            name: portal.fileName, time: portal.date, what: "portal")
        check(
            input.managementRecords, objects: input.managementBackups.filter { $0.status == .complete },
            objectKey: \.id,
            recordKey: { $0 }, name: \.id, time: \.time, what: "management")
        return findings
    }

    /// Standard site backup names start with the portal web host: when no site of the newest scheduled run carries
    /// the portal CR's UI endpoint host, the backups were taken under another host name than the CR restores to.
    static func siteHostFindings(_ cr: SubsystemCR?, _ pairing: PairingResult) -> [Finding] {
        guard let cr, !cr.portalUIHosts.isEmpty, let run = pairing.runs.last(where: \.isScheduled) else { return [] }
        let hosts = Set(
            run.siteEntries.keys.map { run.inventory.sites[Int($0)].split(separator: "@")[0] }.map(String.init))
        guard !hosts.isEmpty, hosts.isDisjoint(with: cr.portalUIHosts) else { return [] }
        let subject = "\(cr.kind)/\(cr.name)"
        return [
            Finding(
                "SITE_HOST_MISMATCH", .warn, subject,
                "no site of the newest scheduled portal run (\(UTC.rfc3339(run.start))) carries \(subject)'s portal UI "
                    + "host \(cr.portalUIHosts.joined(separator: ", ")); its sites' hosts are "
                    + "\(hosts.sorted().joined(separator: ", ")): a restore under this CR would not serve them")
        ]
    }

    static func deploymentFindings(_ input: AuditInput) -> [Finding] {
        let d = input.deployment
        var findings: [Finding] = []
        for (cr, baseline) in [(d.portalCR, d.portalBaseline), (d.managementCR, d.managementBaseline)] {
            if let cr, let baseline { findings += cr.changes(from: baseline) }
        }
        for cr in [d.portalCR, d.managementCR].compactMap({ $0 }) {
            let subject = "\(cr.kind)/\(cr.name)"
            let tooLong = cr.name.count > cr.nameLimit
            if tooLong {
                findings.append(
                    Finding(
                        "CR_NAME_TOO_LONG", .warn, subject,
                        "\(subject) name has \(cr.name.count) characters, over the DR topic's limit of \(cr.nameLimit) for a\(cr.kind == "APIConnectCluster" ? "n APIConnectCluster" : " subsystem CR"): a restore into a CR with a longer name works only where spec.originalUID can be set to the backed-up subsystem's UID"
                    ))
            }
            // The original cluster's own CR needs none when the saved copy the restore applies carries its UID.
            let baseline = cr.role == .portal ? d.portalBaseline : d.managementBaseline
            let savedWithItsUID = cr.uid != nil && baseline?.originalUID == cr.uid
            if cr.originalUID == nil && !savedWithItsUID {
                findings.append(
                    Finding(
                        "ORIGINAL_UID_MISSING", tooLong ? .fail : .warn, subject,
                        "\(subject) has no spec.originalUID; a restored \(cr.role.rawValue) must carry the original UID"
                            + (tooLong ? ", and with a name over \(cr.nameLimit) characters the restore needs it" : "")
                    ))
            }
        }
        for (cr, state) in [(d.portalCR, d.encryptionSecret), (d.managementCR, d.managementEncryptionSecret)] {
            guard let cr else { continue }
            let subject = "\(cr.kind)/\(cr.name)"
            let role = cr.role.rawValue
            if let expected = cr.encryptionSecretName {
                switch state {
                case .notGiven:
                    findings.append(
                        Finding(
                            "ENCRYPTION_SECRET_NOT_SAVED", .fail, expected,
                            "the \(role) encryption Secret \(expected) is not saved (config \(role).encryptionSecret); a restore needs it"
                        ))
                case .unreadable(let why):
                    findings.append(
                        Finding(
                            "ENCRYPTION_SECRET_NOT_SAVED", .fail, expected,
                            "the saved \(role) encryption Secret is unusable: \(why)"))
                case .saved(let name, let hasData):
                    if name != expected {
                        findings.append(
                            Finding(
                                "ENCRYPTION_SECRET_MISMATCH", .fail, expected,
                                "the saved \(role) encryption Secret is \(name) but \(subject) uses \(expected)"))
                    } else if !hasData {
                        findings.append(
                            Finding(
                                "ENCRYPTION_SECRET_MISMATCH", .fail, expected,
                                "the saved \(role) encryption Secret \(name) holds no data"))
                    }
                }
            } else if cr.role == .portal {
                findings.append(
                    Finding(
                        "ENCRYPTION_SECRET_UNSET", .warn, subject,
                        "\(subject) sets no spec.encryptionSecret; the restore topic expects a saved, re-applied encryption Secret"
                    ))
            }
        }
        for (cr, state) in [(d.portalCR, d.portalSecret), (d.managementCR, d.managementSecret)] {
            guard let cr else { continue }
            let expected = cr.backup.credentials
            switch state {
            case nil:
                if cr.backup.protocol != "local" {
                    findings.append(
                        Finding(
                            "BACKUP_SECRET_INVALID", .fail, expected ?? cr.role.rawValue,
                            "no saved \(cr.role.rawValue) backup credential Secret (config \(cr.role.rawValue).secret)")
                    )
                }
            case .invalid(let why)?:
                findings.append(Finding("BACKUP_SECRET_INVALID", .fail, expected ?? cr.role.rawValue, why))
            case .valid(let name)?:
                if let expected, expected != name {
                    findings.append(
                        Finding(
                            "BACKUP_SECRET_INVALID", .fail, expected,
                            "the saved \(cr.role.rawValue) backup Secret is \(name) but \(cr.kind)/\(cr.name) names \(expected)"
                        ))
                }
            }
        }
        for cr in [d.portalCR, d.managementCR].compactMap({ $0 }) where cr.backup.scheduleIsEmpty {
            findings.append(
                Finding(
                    "BACKUP_SCHEDULE_UNSET", .warn, "\(cr.kind)/\(cr.name)",
                    "\(cr.kind)/\(cr.name) sets an empty backup schedule: no scheduled \(cr.role.rawValue) backups are taken"
                ))
        }
        if let p = d.portalCR?.backup.schedule, let m = d.managementCR?.backup.schedule,
            !(d.portalCR!.backup.scheduleIsEmpty || d.managementCR!.backup.scheduleIsEmpty)
        {
            switch (CronSchedule(p), CronSchedule(m)) {
            case (let ps?, let ms?):
                if !CronSchedule.align(ps, ms, tolerance: input.policy.tolerance, from: input.now) {
                    findings.append(
                        Finding(
                            "SCHEDULE_MISALIGNED", .warn, "schedules",
                            "portal schedule '\(p)' and management schedule '\(m)' never fire within \(DurationText.format(input.policy.tolerance)) of each other"
                        ))
                }
            case (nil, _):
                findings.append(
                    Finding(
                        "SCHEDULE_MISALIGNED", .warn, "schedules",
                        "portal schedule '\(p)' is not a 5-field cron expression"))
            case (_, nil):
                findings.append(
                    Finding(
                        "SCHEDULE_MISALIGNED", .warn, "schedules",
                        "management schedule '\(m)' is not a 5-field cron expression"))
            }
        }
        return findings
    }
}
