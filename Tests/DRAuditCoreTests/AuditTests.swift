import Foundation
import Testing

@testable import DRAuditCore

func yamlish(_ pairs: [String: Any]) -> DocumentNode {
    func convert(_ v: Any) -> DocumentNode {
        switch v {
        case let s as String: return .scalar(s)
        case let i as Int: return .scalar(String(i))
        case let d as [String: Any]: return .map(d.mapValues(convert))
        case let a as [Any]: return .list(a.map(convert))
        default: return .null
        }
    }
    return convert(pairs)
}

struct AuditTests {
    let now = utc("2026-01-03T09:00:00Z")

    /// Two good nights, all checks satisfied.
    func healthy() -> AuditInput {
        var input = AuditInput(now: now, policy: PairingPolicy(tolerance: 30 * 60, rpo: 26 * 3600))
        input.policy.portalSchedule = CronSchedule("0 1 * * *")
        input.portalFiles = run("2026-01-02T01:00:00Z", sites: [siteA]) + run("2026-01-03T01:00:00Z", sites: [siteA])
        let f = archived(full("2026-01-02T01:04:00Z"))
        input.managementBackups = [f, archived(incr("2026-01-03T01:04:00Z", on: f, full: f))]
        input.wal = walInventory(from: utc("2026-01-02T00:00:00Z"), to: now)
        input.sources = [
            SourceState(source: "portal", location: "local:/p", lastScanAt: now, ok: true),
            SourceState(source: "management", location: "local:/m", lastScanAt: now, ok: true),
        ]
        let backup = BackupSpec(
            protocol: "sftp", host: "h", port: 22, path: "/b", credentials: "portal-secret", schedule: "0 1 * * *")
        var mspec = backup
        mspec.protocol = "objstore"
        mspec.credentials = "mgmt-secret"
        input.deployment = DeploymentState(
            portalCR: SubsystemCR(
                kind: "PortalCluster", name: "portal", role: .portal, originalUID: "u1", backup: backup,
                encryptionSecretName: "enc"),
            managementCR: SubsystemCR(
                kind: "ManagementCluster", name: "management", role: .management, originalUID: "u2", backup: mspec),
            portalSecret: .valid(name: "portal-secret"), managementSecret: .valid(name: "mgmt-secret"),
            encryptionSecret: .saved(name: "enc", hasData: true))
        // Every backup was read end to end (dr-audit verify).
        input.verification.latest =
            input.portalFiles.map {
                VerificationResult(role: .portal, subject: $0.key, outcome: .ok, checkedAt: now, deep: false)
            }
            + input.managementBackups.map {
                VerificationResult(role: .management, subject: $0.id, outcome: .ok, checkedAt: now, deep: false)
            }
        return input
    }

    func codes(_ input: AuditInput) -> [String] {
        Audit.assess(input).findings.filter { $0.severity != .info }.map(\.code)
    }

    @Test func healthyIsOK() {
        let a = Audit.assess(healthy())
        #expect(a.findings.isEmpty)
        #expect(a.status == .ok)
        #expect(a.status.exitCode == 0)
        #expect(a.pairing.pairs.count == 2)
    }

    @Test func aSiteFileLeftOutForAFailedVerificationIsNotCalledMissing() throws {
        var input = healthy()
        let site = try #require(input.portalFiles.last { $0.kind == .site })
        input.verification = VerificationEvidence(latest: [
            VerificationResult(
                role: .portal, subject: site.key, outcome: .failed, code: "ARCHIVE_CORRUPT", checkedAt: now, deep: false
            )
        ])
        let finding = try #require(Audit.assess(input).findings.first { $0.code == "PORTAL_SITE_MISSING" })
        #expect(finding.message == "portal run 2026-01-03T01:00:00Z's backup of site \(siteA) failed verification")
    }

    @Test func everyBackupJudgedWithoutItsConsistencyWALIsNamed() throws {
        var input = healthy()
        input.managementBackups = input.managementBackups.map {
            var b = $0
            b.wal = nil
            return b
        }
        let finding = try #require(Audit.assess(input).findings.first { $0.code == "MGMT_WAL_UNCHECKED" })
        #expect(finding.message.hasSuffix(input.managementBackups.map(\.id).joined(separator: ", ")))
        #expect(finding.message.hasPrefix("2 management backups were judged without their consistency WAL"))
    }

    @Test func noPairAndRPO() {
        var input = healthy()
        input.managementBackups = []
        #expect(codes(input) == ["NO_RESTORABLE_PAIR"])
        #expect(Audit.assess(input).status.exitCode == 2)
        var late = healthy()
        late.now = utc("2026-01-04T03:05:00Z")  // 26h01m after the newest pair
        #expect(codes(late) == ["RPO_EXCEEDED"])
    }

    @Test func portalProblems() {
        var input = healthy()
        input.portalFiles =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB])
            + run("2026-01-02T01:00:00Z", sites: [siteA], system: false)
            + run("2026-01-03T01:00:00Z", sites: [siteA, siteB])
        input.portalFiles[input.portalFiles.count - 1].size = 0
        #expect(
            Set(codes(input)) == ["PORTAL_SYSTEM_MISSING", "PORTAL_SITE_MISSING", "OBJECT_EMPTY", "NO_RESTORABLE_PAIR"])
        #expect(Audit.assess(input).status == .fail)
    }

    @Test func managementProblems() {
        var input = healthy()
        let f = input.managementBackups[0]
        let bad = incr("2026-01-01T01:00:00Z", on: f, full: f, status: .failed)
        let orphan = ManagementBackup(
            id: "20260101-010000F_20260102-020000I", format: .pgbackrest, type: "incr",
            start: utc("2026-01-02T02:00:00Z"), stop: nil, prior: "20251231-010000F", status: .complete)
        let partial = incr("2026-01-02T03:00:00Z", on: f, full: f, status: .incomplete)
        input.managementBackups += [bad, orphan, partial]
        #expect(Set(codes(input)) == ["BACKUP_FAILED", "MGMT_CHAIN_BROKEN", "MGMT_BACKUP_INCOMPLETE"])
        #expect(Audit.assess(input).status == .warn)
        #expect(Audit.assess(input).status.exitCode == 1)
    }

    @Test func crossCheckWithClusterRecords() {
        var input = healthy()
        let files = input.portalFiles
        let mgmt = input.managementBackups
        // Every object has a Ready record except the last portal file; one extra Ready record has no object.
        input.portalRecords =
            files.dropLast().enumerated().map {
                ClusterRecord(
                    kind: .portalBackup, name: "portal-record-\($0.offset)", phase: "Ready",
                    objectName: $0.element.fileName)
            } + [
                ClusterRecord(
                    kind: .portalBackup, name: "portal-record-x", phase: "Ready",
                    objectName: "_portal_system_backup-20251231.010000.tar.gz")
            ]
        input.managementRecords = mgmt.map {
            ClusterRecord(kind: .managementBackup, name: "m-\($0.id)", phase: "Ready", objectName: $0.id)
        }
        let findings = Audit.assess(input).findings
        #expect(findings.filter { $0.code == "CR_WITHOUT_OBJECT" }.map(\.subject) == ["PortalBackup/portal-record-x"])
        #expect(findings.filter { $0.code == "OBJECT_WITHOUT_CR" }.map(\.subject) == [files.last!.fileName])
        #expect(Audit.assess(input).pairing.pairs.count == 2)

        // A Failed record contradicts the newest management backup: the newest run now pairs through the recovery
        // window of the backup before it.
        input.managementRecords![1].phase = "Failed"
        let after = Audit.assess(input)
        #expect(
            after.findings.contains { $0.code == "BACKUP_FAILED" && $0.subject == "ManagementBackup/m-\(mgmt[1].id)" })
        #expect(after.pairing.pairs.map(\.management.id) == [mgmt[0].id, mgmt[0].id])
        #expect(after.pairing.pairs.map(\.recovery) == [.pitr, .backup])
        input.policy.pitr = false
        #expect(Audit.assess(input).pairing.pairs.map(\.management.id) == [mgmt[0].id])
    }

    @Test func objectsYoungerThanTheRecordSyncAreNotFlagged() {
        var input = healthy()
        input.now = utc("2026-01-03T01:05:00Z")
        input.portalRecords = []
        input.managementRecords = []
        let flagged = Audit.assess(input).findings.filter { $0.code == "OBJECT_WITHOUT_CR" }.map(\.subject)
        #expect(!flagged.contains { $0.contains("20260103") })
        #expect(flagged.contains { $0.contains("20260102") })
    }

    @Test func deploymentChecks() {
        var input = healthy()
        input.deployment.portalCR!.name = "portal-cluster-16"
        input.deployment.managementCR = SubsystemCR(
            kind: "APIConnectCluster", name: "production1", role: .management,
            originalUID: nil, backup: input.deployment.managementCR!.backup)
        // Without originalUID, a name over the limit cannot be restored into: fail; the message says why.
        #expect(codes(input) == ["ORIGINAL_UID_MISSING", "CR_NAME_TOO_LONG", "CR_NAME_TOO_LONG"])
        let long = Audit.assess(input).findings.first { $0.code == "CR_NAME_TOO_LONG" }!
        #expect(long.message.contains("works only where spec.originalUID can be set"))
        #expect(Audit.assess(input).status == .fail)

        // On the original cluster the live CR has no originalUID; the saved copy a restore applies carries its UID.
        var original = healthy()
        original.deployment.portalCR!.originalUID = nil
        original.deployment.portalCR!.uid = "live-uid"
        #expect(codes(original) == ["ORIGINAL_UID_MISSING"])
        original.deployment.portalBaseline = original.deployment.portalCR
        original.deployment.portalBaseline!.originalUID = "live-uid"
        #expect(codes(original).isEmpty)
        original.deployment.portalBaseline!.originalUID = "another-uid"
        #expect(codes(original).contains("ORIGINAL_UID_MISSING"))

        var enc = healthy()
        enc.deployment.encryptionSecret = .notGiven
        #expect(codes(enc) == ["ENCRYPTION_SECRET_NOT_SAVED"])
        enc.deployment.encryptionSecret = .saved(name: "other", hasData: true)
        #expect(codes(enc) == ["ENCRYPTION_SECRET_MISMATCH"])
        enc.deployment.portalCR!.encryptionSecretName = nil
        #expect(codes(enc) == ["ENCRYPTION_SECRET_UNSET"])

        var secret = healthy()
        secret.deployment.portalSecret = .invalid("portal backup Secret s.yaml: data.password is not valid base64")
        secret.deployment.managementSecret = .valid(name: "someone-else")
        #expect(codes(secret) == ["BACKUP_SECRET_INVALID", "BACKUP_SECRET_INVALID"])
        #expect(Audit.assess(secret).status == .fail)
    }

    @Test func anEmptyScheduleMeansNoScheduledBackups() throws {
        var input = healthy()
        input.deployment.portalCR!.backup.schedule = ""
        // Reported for that subsystem, and not compared with the other schedule.
        #expect(codes(input) == ["BACKUP_SCHEDULE_UNSET"])
        #expect(Audit.assess(input).findings[0].subject == "PortalCluster/portal")
        input.deployment.portalCR!.backup.schedule = nil  // no schedule key: the operator's default, no finding
        #expect(codes(input).isEmpty)

        func parsed(_ backup: [String: Any]) throws -> BackupSpec {
            try SubsystemCR.parse(
                yamlish(["kind": "PortalCluster", "metadata": ["name": "p"], "spec": ["portalBackup": backup]]),
                role: .portal
            ).backup
        }
        #expect(try parsed(["protocol": "sftp", "schedule": ""]).scheduleIsEmpty)
        #expect(try parsed(["protocol": "sftp"]).schedule == nil)
        #expect(try !parsed(["protocol": "sftp"]).scheduleIsEmpty)
    }

    @Test func managementEncryptionSecretIsCheckedWhenTheCRSetsOne() {
        var input = healthy()
        #expect(codes(input).isEmpty)  // the management CR names none: nothing to check
        input.deployment.managementCR!.encryptionSecretName = "mgmt-enc-key"
        #expect(codes(input) == ["ENCRYPTION_SECRET_NOT_SAVED"])
        #expect(Audit.assess(input).findings[0].message.contains("config management.encryptionSecret"))
        input.deployment.managementEncryptionSecret = .saved(name: "other", hasData: true)
        #expect(codes(input) == ["ENCRYPTION_SECRET_MISMATCH"])
        input.deployment.managementEncryptionSecret = .saved(name: "mgmt-enc-key", hasData: false)
        #expect(codes(input) == ["ENCRYPTION_SECRET_MISMATCH"])
        input.deployment.managementEncryptionSecret = .saved(name: "mgmt-enc-key", hasData: true)
        #expect(codes(input).isEmpty)
    }

    @Test func anEDBBackupWhoseWALArchivingFailsIsAFailure() {
        var input = healthy()
        input.managementRecords = [
            ClusterRecord(kind: .edbBackup, name: "b1", phase: "walArchivingFailing", objectName: "srv/20260103T010400")
        ]
        let failed = Audit.assess(input).findings.filter { $0.code == "BACKUP_FAILED" }
        #expect(failed.count == 1)
        #expect(failed.first?.message.contains("walArchivingFailing") == true)
        #expect(input.managementRecords![0].verdict == .failed)
    }

    @Test func schedules() {
        var input = healthy()
        input.deployment.managementCR!.backup.schedule = "0 4 * * *"
        #expect(codes(input) == ["SCHEDULE_MISALIGNED"])
        input.deployment.managementCR!.backup.schedule = "20 1 * * *"
        #expect(codes(input).isEmpty)
        input.deployment.managementCR!.backup.schedule = "not cron"
        #expect(codes(input) == ["SCHEDULE_MISALIGNED"])
    }

    @Test func targetState() {
        var input = healthy()
        input.sources[0] = SourceState(
            source: "portal", location: "sftp://h/b", lastScanAt: now, ok: false,
            errorCode: "TARGET_UNREACHABLE", error: "connection refused")
        input.sources[1] = SourceState(source: "management", location: "local:/m", lastScanAt: nil, ok: false)
        #expect(codes(input) == ["TARGET_NOT_SCANNED", "TARGET_UNREACHABLE"])
    }

    @Test func unrecognizedObjectsAreReported() {
        var input = healthy()
        input.unrecognized = [UnrecognizedObject(role: .portal, key: "notes.txt", size: 3)]
        input.emptyMetadata = [UnrecognizedObject(role: .management, key: "backup/apic/backup.info", size: 0)]
        #expect(codes(input) == ["OBJECT_EMPTY", "UNRECOGNIZED_OBJECT"])
    }

    @Test func aBackupBuiltOnOneAFailedCRContradictsHasABrokenChain() {
        var input = healthy()
        let (f, i) = (input.managementBackups[0], input.managementBackups[1])
        input.managementRecords = [
            ClusterRecord(kind: .managementBackup, name: "m-f", phase: "Failed", objectName: f.id),
            ClusterRecord(kind: .managementBackup, name: "m-i", phase: "Ready", objectName: i.id),
        ]
        let findings = Audit.assess(input).findings
        let broken = findings.filter { $0.code == "MGMT_CHAIN_BROKEN" }
        #expect(broken.map(\.subject) == ["management \(i.id)"])
        #expect(broken.first?.message.contains("prior \(f.id) is marked Failed in the cluster") == true)
        #expect(findings.contains { $0.code == "BACKUP_FAILED" && $0.subject == "ManagementBackup/m-f" })
    }

    @Test func manualRunsAreInfoAndAStoppedSiteWarnsUntilRetired() {
        var input = healthy()
        input.portalFiles =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-02T14:00:00Z", sites: [siteC], system: false)  // by hand
            + run("2026-01-03T01:00:00Z", sites: [siteA])
        let findings = Audit.assess(input).findings
        #expect(
            findings.filter { $0.code == "PORTAL_MANUAL_BACKUP" }.map(\.subject) == ["portal run 2026-01-02T14:00:10Z"])
        #expect(findings.first { $0.code == "PORTAL_MANUAL_BACKUP" }?.severity == .info)
        let stopped = findings.filter { $0.code == "PORTAL_SITE_STOPPED" }
        #expect(stopped.map(\.subject) == [siteB])
        #expect(stopped.first?.message.contains("last backed up in the run of 2026-01-01T01:00:00Z") == true)
        #expect(stopped.first?.message.contains("portal.retiredSites") == true)
        input.policy.retiredSites = [siteB]
        #expect(!Audit.assess(input).findings.contains { $0.code.hasPrefix("PORTAL_SITE") })
    }

    @Test func sitesBackedUpUnderAnotherHostThanThePortalCRsUIEndpointWarn() {
        var input = healthy()
        input.deployment.portalCR?.portalUIHosts = ["portal-web.think.org"]  // siteA's host
        #expect(!Audit.assess(input).findings.contains { $0.code == "SITE_HOST_MISMATCH" })
        input.deployment.portalCR?.portalUIHosts = ["portal.new.example.com"]
        let finding = Audit.assess(input).findings.first { $0.code == "SITE_HOST_MISMATCH" }
        #expect(finding?.severity == .warn)
        #expect(finding?.message.contains("portal.new.example.com") == true)
        #expect(finding?.message.contains("its sites' hosts are portal-web.think.org") == true)
    }

    @Test func unpairedBackupsAreInfoOnly() {
        var input = healthy()
        input.managementBackups.append(archived(full("2026-01-02T06:00:00Z")))
        input.policy.pitr = false  // else the 01:00 runs pair with it by point-in-time recovery
        let a = Audit.assess(input)
        #expect(a.status == .ok)
        #expect(a.findings.map(\.code) == ["UNPAIRED_BACKUP"])
    }
}

struct DeploymentParsingTests {
    @Test func portalClusterAndAPIConnectCluster() throws {
        let portal = try SubsystemCR.parse(
            yamlish([
                "kind": "PortalCluster", "metadata": ["name": "portal"],
                "spec": [
                    "originalUID": "abc", "encryptionSecret": ["secretName": "apic-ptl-enc-key"],
                    "portalBackup": [
                        "protocol": "sftp", "host": "h.example.com", "port": "2222", "path": "/b", "credentials": "s",
                        "schedule": "0 1 * * *",
                    ],
                ],
            ]), role: .portal)
        #expect(portal.backup.port == 2222)
        #expect(portal.encryptionSecretName == "apic-ptl-enc-key")
        #expect(portal.nameLimit == 15)

        let top = yamlish([
            "kind": "APIConnectCluster", "metadata": ["name": "prod"],
            "spec": [
                "portal": [
                    "portalBackup": [
                        "protocol": "objstore", "host": "s3.amazonaws.com/us-east-1", "path": "bkt/portal",
                    ]
                ],
                "management": [
                    "originalUID": "m1",
                    "databaseBackup": [
                        "protocol": "objstore", "host": "s3.amazonaws.com/us-east-1", "path": "bkt/mgmt",
                    ],
                ],
            ],
        ])
        let p = try SubsystemCR.parse(top, role: .portal)
        let m = try SubsystemCR.parse(top, role: .management)
        #expect(p.backup.path == "bkt/portal")
        #expect(m.backup.path == "bkt/mgmt")
        #expect(m.originalUID == "m1")
        #expect(p.nameLimit == 10)
    }

    @Test func versionAndPortalUIHostsAreRead() throws {
        let portal = try SubsystemCR.parse(
            yamlish([
                "kind": "PortalCluster", "metadata": ["name": "portal"],
                "spec": [
                    "version": "10.0.5.8",
                    "portalAdminEndpoint": ["hosts": [["name": "api.portal.example.com"]]],
                    "portalUIEndpoint": ["hosts": [["name": "portal.example.com"], ["name": "dev.example.com"]]],
                    "portalBackup": ["protocol": "sftp"],
                ],
            ]), role: .portal)
        #expect(portal.version == "10.0.5.8")
        #expect(portal.portalUIHosts == ["portal.example.com", "dev.example.com"])

        // The top-level CR: the version at spec.version, the portal's UI endpoint under spec.portal.
        let top = yamlish([
            "kind": "APIConnectCluster", "metadata": ["name": "apic"],
            "spec": [
                "version": "10.0.8.1",
                "portal": [
                    "portalUIEndpoint": ["hosts": [["name": "devportal.example.com", "secretName": "c"]]],
                    "portalBackup": ["protocol": "sftp"],
                ],
                "management": ["databaseBackup": ["protocol": "sftp"]],
            ],
        ])
        #expect(try SubsystemCR.parse(top, role: .portal).portalUIHosts == ["devportal.example.com"])
        #expect(try SubsystemCR.parse(top, role: .portal).version == "10.0.8.1")
        #expect(try SubsystemCR.parse(top, role: .management).portalUIHosts == [])
    }

    @Test func crErrorsNameTheKey() {
        #expect(throws: DocumentError("kind is ManagementCluster, expected PortalCluster or APIConnectCluster")) {
            try SubsystemCR.parse(yamlish(["kind": "ManagementCluster", "metadata": ["name": "m"]]), role: .portal)
        }
        #expect(throws: DocumentError("no spec.portalBackup or spec.databaseBackups")) {
            try SubsystemCR.parse(
                yamlish(["kind": "PortalCluster", "metadata": ["name": "p"], "spec": [:] as [String: Any]]),
                role: .portal)
        }
        #expect(throws: DocumentError("spec.portalBackup.port 'x' is not a port")) {
            try SubsystemCR.parse(
                yamlish([
                    "kind": "PortalCluster", "metadata": ["name": "p"],
                    "spec": ["portalBackup": ["protocol": "sftp", "port": "x"]],
                ]), role: .portal)
        }
    }

    @Test func secretsDecodeAndNeverShowValues() throws {
        let good = try SavedSecret.parse(
            yamlish([
                "kind": "Secret", "metadata": ["name": "s"],
                "data": ["username": "dXNlcg==", "password": "c2VjcmV0LXZhbHVl"],
            ]))
        let creds = try good.backupCredentials()
        #expect(creds.username == "user")
        #expect(creds.password == "secret-value")
        #expect(!"\(creds)".contains("secret-value"))
        let edb = try SavedSecret.parse(
            yamlish(["kind": "Secret", "metadata": ["name": "s"], "data": ["key": "QUs=", "keysecret": "U0s="]]))
        #expect(try edb.backupCredentials().username == "AK")
        #expect(throws: DocumentError("data.password is not valid base64")) {
            try SavedSecret.parse(
                yamlish(["kind": "Secret", "metadata": ["name": "s"], "data": ["password": "not base64!"]]))
        }
        #expect(throws: DocumentError("has no password (or keysecret, ssh-privatekey, identity)")) {
            try SavedSecret.parse(
                yamlish(["kind": "Secret", "metadata": ["name": "s"], "data": ["username": "dXNlcg=="]])
            ).backupCredentials()
        }
    }

    @Test func clusterExports() throws {
        let list = yamlish([
            "kind": "List",
            "items": [
                [
                    "kind": "PortalBackup", "metadata": ["name": "portal-record-1"],
                    "spec": ["type": "system", "crType": "record"],
                    "status": ["phase": "Ready", "fullBackupName": "_portal_system_backup-20200422.095734.tar.gz"],
                ]
            ],
        ])
        let records = try ClusterExport.records(list, role: .portal)
        #expect(
            records == [
                ClusterRecord(
                    kind: .portalBackup, name: "portal-record-1", phase: "Ready", type: "system", crType: "record",
                    objectName: "_portal_system_backup-20200422.095734.tar.gz")
            ])
        let edb = try ClusterExport.records(
            yamlish([
                "kind": "Backup", "metadata": ["name": "b1"],
                "status": ["phase": "completed", "backupId": "20230918T101612", "serverName": "srv"],
            ]), role: .management)
        #expect(edb[0].objectName == "srv/20230918T101612")
        #expect(edb[0].verdict == .ready)
        #expect(throws: DocumentError("item 0 is a PortalBackup in the management export")) {
            try ClusterExport.records(list, role: .management)
        }
        #expect(throws: DocumentError("item 0 (PortalBackup) has no metadata.name")) {
            try ClusterExport.records(yamlish(["kind": "List", "items": [["kind": "PortalBackup"]]]), role: .portal)
        }
    }
}

struct CronAndDurationTests {
    @Test func cronFields() throws {
        let c = try #require(CronSchedule("*/15 1-3 * * 1,3,5"))
        #expect(c.fires(at: utc("2026-01-05T01:15:00Z")))  // Monday
        #expect(!c.fires(at: utc("2026-01-06T01:15:00Z")))  // Tuesday
        #expect(!c.fires(at: utc("2026-01-05T04:00:00Z")))
        #expect(CronSchedule("0 1 * *") == nil)
        #expect(CronSchedule("61 1 * * *") == nil)
        #expect(CronSchedule("0 1 * * 7")!.fires(at: utc("2026-01-04T01:00:00Z")))  // Sunday as 7
        let a = try #require(CronSchedule("0 1 * * *"))
        #expect(CronSchedule.align(a, CronSchedule("25 1 * * *")!, tolerance: 1800, from: utc("2026-01-01T00:00:00Z")))
        #expect(!CronSchedule.align(a, CronSchedule("0 2 * * *")!, tolerance: 1800, from: utc("2026-01-01T00:00:00Z")))
        #expect(CronSchedule.align(a, CronSchedule("45 0 * * *")!, tolerance: 1800, from: utc("2026-01-01T00:00:00Z")))
    }

    @Test func durations() {
        #expect(DurationText.parse("30m") == 1800)
        #expect(DurationText.parse("26h") == 93600)
        #expect(DurationText.parse("1h30m") == 5400)
        #expect(DurationText.parse("1d") == 86400)
        #expect(DurationText.parse("30") == nil)
        #expect(DurationText.parse("m") == nil)
        #expect(DurationText.parse("3x") == nil)
        #expect(DurationText.format(5400) == "1h30m")
        #expect(DurationText.format(0) == "0s")
    }
}

struct BaselineTests {
    func portal(
        name: String = "portal", originalUID: String? = nil, uid: String? = nil,
        hosts: [String] = ["api.portal.example.com", "portal.example.com"],
        path: String = "/backups/portal", version: String = "10.0.5.8"
    ) throws -> SubsystemCR {
        var metadata: [String: Any] = ["name": name]
        if let uid { metadata["uid"] = uid }
        var spec: [String: Any] = [
            "version": version,
            "portalAdminEndpoint": ["hosts": [["name": hosts[0], "secretName": "a"]]],
            "portalUIEndpoint": ["hosts": [["name": hosts[1], "secretName": "b"]]],
            "portalBackup": ["protocol": "sftp", "host": "sftp.example.com", "path": path],
        ]
        if let originalUID { spec["originalUID"] = originalUID }
        return try SubsystemCR.parse(
            yamlish(["kind": "PortalCluster", "metadata": metadata, "spec": spec]), role: .portal)
    }

    @Test func unchangedHasNoFindings() throws {
        let original = try portal(uid: "uid-1")
        #expect(original.endpoints == ["api.portal.example.com", "portal.example.com"])
        #expect(try portal(originalUID: "uid-1").changes(from: original).isEmpty)
    }

    @Test func eachChangeHasItsCode() throws {
        let original = try portal(uid: "uid-1")
        let changed = try portal(
            name: "portal2", originalUID: "uid-9", hosts: ["api.portal.example.com", "new.example.com"],
            path: "/elsewhere", version: "10.0.5.9")
        let findings = changed.changes(from: original)
        #expect(
            findings.map(\.code) == [
                "CR_NAME_CHANGED", "ORIGINAL_UID_CHANGED", "ENDPOINT_CHANGED", "BACKUP_TARGET_CHANGED",
                "VERSION_CHANGED",
            ])
        // Each of them stops the restore as written: the seed procedure needs them all unchanged.
        #expect(findings.allSatisfy { $0.severity == .fail })
        #expect(
            findings.first { $0.code == "VERSION_CHANGED" }?.message.contains("version 10.0.5.9")
                == true)
        #expect(
            findings.first { $0.code == "ENDPOINT_CHANGED" }?.message.contains(
                "missing portal.example.com; new new.example.com") == true)
        #expect(findings.first { $0.code == "ORIGINAL_UID_CHANGED" }?.severity == .fail)
        #expect(try portal().changes(from: original).map(\.code) == ["ORIGINAL_UID_CHANGED"])  // unset on the new install
    }

    /// On the original cluster the live CR carries no originalUID: it is the backed-up subsystem itself.
    @Test func theOriginalSubsystemMatchesItsSavedUID() throws {
        let saved = try portal(originalUID: "uid-1")
        #expect(try portal(uid: "uid-1").changes(from: saved).isEmpty)
        #expect(try portal(uid: "uid-2").changes(from: saved).map(\.code) == ["ORIGINAL_UID_CHANGED"])
    }
}
