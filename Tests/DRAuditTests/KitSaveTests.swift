import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// A live cluster served by scripts/fake-kube-api.py over TLS, whose objects a test can change between commands,
/// beside the sample environment's local copies of the backup storage.
final class FakeCluster {
    let dir: TempDir
    let api: ScriptServer
    let token: String
    var fixture: [String: Any]

    static let portalPassword = "Pw-live-portal-7d1e"
    static let managementSecret = "Sk-live-mgmt-4c2a9e"
    static let portalKey = "enc-portal-31b9f0c2d4e6"
    static let managementKey = "enc-mgmt-8a7c6e5d4b3a"
    /// Every secret value the fixture holds, as it appears decoded and base64-encoded.
    static var secretForms: [String] {
        [portalPassword, managementSecret, portalKey, managementKey].flatMap {
            [$0, Data($0.utf8).base64EncodedString()]
        }
    }

    static func secret(_ name: String, _ data: [String: String]) -> [String: Any] {
        [
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": [
                "name": name, "namespace": "apic", "uid": "s-\(name)", "resourceVersion": "7",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                // kubectl's annotation repeats the whole object: it must not reach the saved file.
                "annotations": [
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":\(data.values.sorted())}",
                    "owner": "platform-team",
                ],
            ],
            "data": data.mapValues { Data($0.utf8).base64EncodedString() },
        ]
    }

    static var secrets: [String: Any] {
        [
            "portal-backup-secret": secret(
                "portal-backup-secret", ["username": "portal-sftp", "password": portalPassword]),
            "mgmt-backup-secret": secret("mgmt-backup-secret", ["key": "AKIA-LIVE", "keysecret": managementSecret]),
            "apic-ptl-enc-key": secret("apic-ptl-enc-key", ["encryption_secret": portalKey]),
            "mgmt-enc-key": secret("mgmt-enc-key", ["encryption_secret": managementKey]),
        ]
    }

    static func serverSide(_ name: String, uid: String) -> [String: Any] {
        [
            "name": name, "namespace": "apic", "uid": uid, "resourceVersion": "123", "generation": 4,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [["manager": "kubectl", "operation": "Update"]],
            "annotations": ["kubectl.kubernetes.io/last-applied-configuration": "{}"],
        ]
    }

    static var portalSpec: [String: Any] {
        [
            "version": "10.0.5.8", "profile": "n1xc2.m8",
            "encryptionSecret": ["secretName": "apic-ptl-enc-key"],
            "portalAdminEndpoint": ["hosts": [["name": "api.portal.example.com", "secretName": "portal-admin"]]],
            "portalUIEndpoint": ["hosts": [["name": "portal.example.com", "secretName": "portal-web"]]],
            "portalBackup": [
                "protocol": "sftp", "host": "sftp.backups.example.com", "port": 22, "path": "/backups/portal",
                "credentials": "portal-backup-secret", "schedule": "0 1 * * *",
            ],
        ]
    }

    static var managementSpec: [String: Any] {
        [
            "version": "10.0.5.8",
            "encryptionSecret": ["secretName": "mgmt-enc-key"],
            "platformAPIEndpoint": ["hosts": [["name": "platform.example.com", "secretName": "platform"]]],
            "databaseBackup": [
                "protocol": "objstore", "s3provider": "ibm",
                "host": "s3.eu-gb.cloud-object-storage.appdomain.cloud/eu-standard", "path": "apic-backups/management",
                "credentials": "mgmt-backup-secret", "schedule": "0 1 * * *",
            ],
        ]
    }

    /// A PortalCluster and a ManagementCluster, as a namespace installed with subsystem CRs holds them.
    static func separateCRs() -> [String: Any] {
        [
            "portalclusters": [
                [
                    "metadata": serverSide("portal", uid: "5f1c3a9e-live-portal"), "spec": portalSpec,
                    "status": ["phase": "Running"],
                ]
            ],
            "managementclusters": [
                [
                    "metadata": serverSide("management", uid: "0e88ecfa-live-mgmt"), "spec": managementSpec,
                    "status": ["phase": "Running"],
                ]
            ],
        ]
    }

    /// An APIConnectCluster and the subsystem CRs the operator made from it (named -ptl and -mgmt, owned by it).
    static func topLevel() -> [String: Any] {
        func owned(_ name: String, uid: String) -> [String: Any] {
            var metadata = serverSide(name, uid: uid)
            metadata["ownerReferences"] = [
                [
                    "apiVersion": "apiconnect.ibm.com/v1beta1", "kind": "APIConnectCluster", "name": "apic",
                    "uid": "u-top",
                ]
            ]
            return metadata
        }
        var portal = portalSpec
        portal["version"] = nil
        var management = managementSpec
        management["version"] = nil
        return [
            "apiconnectclusters": [
                [
                    "metadata": serverSide("apic", uid: "u-top"),
                    "spec": [
                        "version": "10.0.5.8", "profile": "n1xc7.m48", "portal": portal, "management": management,
                    ],
                    "status": ["phase": "Ready"],
                ]
            ],
            "portalclusters": [["metadata": owned("apic-ptl", uid: "u-ptl-2"), "spec": portalSpec]],
            "managementclusters": [["metadata": owned("apic-mgmt", uid: "u-mgmt-2"), "spec": managementSpec]],
        ]
    }

    /// `crs`: the subsystem CRs; the sample environment gives the storage and the backup CRs.
    init(crs: [String: Any], name: String = #function) throws {
        let server = try S3Server.running()  // its test CA signs the fake API server's certificate
        let dir = try TempDir(name)
        let token = "kube-token-\(UUID().uuidString)"
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        var fixture = try apiBackupLists(dir)
        fixture.merge(crs) { $1 }
        fixture["secrets"] = Self.secrets
        try JSONSerialization.data(withJSONObject: fixture).write(
            to: dir.url.appendingPathComponent("fixture.json"), options: .atomic)
        let certDir = URL(fileURLWithPath: server.caBundle).deletingLastPathComponent()
        let api = try ScriptServer(
            script: "fake-kube-api.py",
            [
                "--cert", certDir.appendingPathComponent("server.crt").path, "--key",
                certDir.appendingPathComponent("server.key").path, "--token", token, "--fixture",
                dir.path("fixture.json"), "--namespace", "apic",
            ])
        let ca = try Data(contentsOf: URL(fileURLWithPath: server.caBundle)).base64EncodedString()
        try """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod-cluster
          cluster: {server: "https://127.0.0.1:\(api.port)", certificate-authority-data: \(ca)}
        contexts:
        - name: prod
          context: {cluster: prod-cluster, user: auditor, namespace: apic}
        users:
        - name: auditor
          user: {token: \(token)}
        """.write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        // The operator's own config: only the live cluster and where the storage copies are.
        try """
        database: ./dr-audit.sqlite
        portal:
          target: {protocol: local, path: ./storage/portal}
        management:
          target: {protocol: local, path: ./storage/management}
        cluster:
          kubeconfig: ./kubeconfig
        """.write(toFile: dir.path("live.yaml"), atomically: true, encoding: .utf8)
        for file in [
            "portal_cr.yaml", "management_cr.yaml", "portal-backup-secret.yaml", "mgmt-backup-secret.yaml",
            "portal_enc_key.yaml", "portalbackups.json", "managementbackups.json", config.lastPathComponent,
        ] {
            try FileManager.default.removeItem(at: dir.url.appendingPathComponent(file))
        }
        self.dir = dir
        self.token = token
        self.fixture = fixture
        self.api = api
    }

    /// Changes the cluster; the fake API server reads its fixture again.
    func change(_ edit: (inout [String: Any]) -> Void) throws {
        edit(&fixture)
        try JSONSerialization.data(withJSONObject: fixture).write(
            to: dir.url.appendingPathComponent("fixture.json"), options: .atomic)
    }

    /// Edits the first object of a fixture list.
    func changeFirst(_ resource: String, _ edit: @escaping (inout [String: Any]) -> Void) throws {
        try change { fixture in
            var list = fixture[resource] as! [[String: Any]]
            edit(&list[0])
            fixture[resource] = list
        }
    }

    var kit: String { dir.path("kit") }
    var kitConfig: String { dir.path("kit/dr-audit.yaml") }
}

func findingCodes(_ audit: CLIResult) throws -> [String] {
    (try json(audit.stdout)["findings"] as? [[String: String]] ?? []).map { $0["code"]! }
}

func findings(_ audit: CLIResult, _ code: String) throws -> [[String: String]] {
    (try json(audit.stdout)["findings"] as? [[String: String]] ?? []).filter { $0["code"] == code }
}

func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int) & 0o777
}

/// `dr-audit save` and the kit checks of `audit`, against the fake API server over TLS.
@Suite(.serialized)
struct KitSaveTests {
    @Test func savesSeparateSubsystemCRsAsApplyableYAMLWithTheirSecrets() throws {
        let cluster = try FakeCluster(crs: FakeCluster.separateCRs())
        defer { withExtendedLifetime(cluster) {} }
        let save = try cli(["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.kit])
        #expect(save.status == 0, "\(save.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: cluster.kit))
        #expect(
            files == [
                "portal_cr.yaml", "management_cr.yaml", "secret-portal-backup-secret.yaml",
                "secret-mgmt-backup-secret.yaml", "secret-apic-ptl-enc-key.yaml", "secret-mgmt-enc-key.yaml",
                "dr-audit.yaml",
            ])
        // Secrets 0600 in a 0700 folder, and the command says so.
        #expect(try mode(cluster.kit) == 0o700)
        for file in files { #expect(try mode(cluster.dir.path("kit/\(file)")) == 0o600, "\(file)") }
        #expect(save.stdout.contains("0600 in a 0700 folder"))

        // The CR as the DR procedure applies it: no status or server-set metadata, the live UID as originalUID.
        let portal = try Documents.load(URL(fileURLWithPath: cluster.dir.path("kit/portal_cr.yaml")), what: "cr")
        #expect(portal["kind"]?.string == "PortalCluster")
        #expect(portal["apiVersion"]?.string == "portal.apiconnect.ibm.com/v1beta1")
        #expect(portal["status"] == nil)
        #expect(portal["metadata"]?.entries.map { Set($0.keys) } == ["name", "namespace"])
        #expect(portal["spec", "originalUID"]?.string == "5f1c3a9e-live-portal")
        let text = try String(contentsOfFile: cluster.dir.path("kit/portal_cr.yaml"), encoding: .utf8)
        #expect(text.contains("port: 22\n"))  // a number stays a number
        #expect(text.contains("version: 10.0.5.8\n"))
        #expect(save.stdout.contains("spec.originalUID set to its live UID 5f1c3a9e-live-portal"))

        let secret = try Documents.load(
            URL(fileURLWithPath: cluster.dir.path("kit/secret-portal-backup-secret.yaml")), what: "secret")
        #expect(try SavedSecret.parse(secret).values["password"] == Data(FakeCluster.portalPassword.utf8))
        #expect(secret["metadata", "annotations"]?.entries?.keys.sorted() == ["owner"])
        #expect(secret["metadata", "uid"] == nil)

        // The kit's config points at the files, reads the current CRs live, and is accepted.
        let config = try Config.load(URL(fileURLWithPath: cluster.kitConfig))
        #expect(config.portal?.cr == nil)
        #expect(config.portal?.crName == "portal")
        #expect(config.portal?.baseline?.lastPathComponent == "portal_cr.yaml")
        #expect(config.portal?.secret?.lastPathComponent == "secret-portal-backup-secret.yaml")
        #expect(config.management?.encryptionSecret?.lastPathComponent == "secret-mgmt-enc-key.yaml")
        #expect(config.cluster?.kubeconfig?.path == cluster.dir.path("kubeconfig"))
        #expect(config.portal?.target["path"] == cluster.dir.path("storage/portal"))
        #expect(config.database.path == cluster.dir.path("dr-audit.sqlite"))

        for form in FakeCluster.secretForms + [cluster.token] {
            #expect(!(save.stdout + save.stderr).contains(form))
        }
    }

    @Test func savesAnAPIConnectClusterWithTheUIDsOfItsSubsystems() throws {
        let cluster = try FakeCluster(crs: FakeCluster.topLevel())
        defer { withExtendedLifetime(cluster) {} }
        let save = try cli(["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.kit])
        #expect(save.status == 0, "\(save.stderr)")
        let top = try Documents.load(URL(fileURLWithPath: cluster.dir.path("kit/apiconnectcluster.yaml")), what: "cr")
        #expect(top["kind"]?.string == "APIConnectCluster")
        #expect(top["spec", "portal", "originalUID"]?.string == "u-ptl-2")
        #expect(top["spec", "management", "originalUID"]?.string == "u-mgmt-2")
        #expect(top["metadata", "uid"] == nil && top["status"] == nil)
        let portal = try Documents.load(URL(fileURLWithPath: cluster.dir.path("kit/portal_cr.yaml")), what: "cr")
        #expect(portal["metadata", "name"]?.string == "apic-ptl")
        #expect(portal["metadata", "ownerReferences"] == nil)
        let config = try Config.load(URL(fileURLWithPath: cluster.kitConfig))
        #expect(config.portal?.crName == "apic-ptl")
        #expect(config.management?.crName == "apic-mgmt")
        #expect(save.stdout.contains("apiconnectcluster.yaml"))
        #expect(save.stdout.contains("the CR the DR procedure applies"))

        // The kit audits clean against the cluster it came from.
        #expect(try cli(["scan", "--config", cluster.kitConfig]).status == 0)
        let audit = try cli(["audit", "--config", cluster.kitConfig, "--now", testNowText, "--format", "json"])
        #expect(!(try findingCodes(audit)).contains { $0.hasPrefix("DR_KIT") }, "\(audit.stdout)")
    }

    /// Saved files → audit with no finding about the kit; then each drift, a changed Secret, and a second save.
    @Test func roundTripDriftAndResave() throws {
        let cluster = try FakeCluster(crs: FakeCluster.separateCRs())
        defer { withExtendedLifetime(cluster) {} }
        #expect(try cli(["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.kit]).status == 0)
        var outputs = ""
        func scanAndAudit(now: String = testNowText) throws -> CLIResult {
            let scan = try cli(["scan", "--config", cluster.kitConfig])
            #expect(scan.status == 0, "\(scan.stderr)")
            let audit = try cli(["audit", "--config", cluster.kitConfig, "--now", now, "--format", "json"])
            outputs += scan.stdout + scan.stderr + audit.stdout + audit.stderr
            return audit
        }
        let clean = try scanAndAudit()
        let kitCodes: Set<String> = [
            "DR_KIT_STALE", "DR_KIT_OLD", "CR_NAME_CHANGED", "ORIGINAL_UID_CHANGED", "ENDPOINT_CHANGED",
            "BACKUP_TARGET_CHANGED", "VERSION_CHANGED", "BACKUP_SECRET_INVALID", "ENCRYPTION_SECRET_NOT_SAVED",
            "ENCRYPTION_SECRET_MISMATCH", "ORIGINAL_UID_MISSING",
        ]
        #expect(kitCodes.isDisjoint(with: try findingCodes(clean)), "\(clean.stdout)")

        // Each DR-relevant field changed on the live CR is named; put back, the finding goes.
        let drifts: [(field: String, resource: String, edit: (inout [String: Any]) -> Void)] = [
            (
                "version", "portalclusters",
                { cr in cr["spec"] = (cr["spec"] as! [String: Any]).merging(["version": "10.0.5.9"]) { $1 } }
            ),
            (
                "endpoints", "portalclusters",
                { cr in
                    var spec = cr["spec"] as! [String: Any]
                    spec["portalUIEndpoint"] = ["hosts": [["name": "portal2.example.com", "secretName": "w"]]]
                    cr["spec"] = spec
                }
            ),
            (
                "backup.path", "managementclusters",
                { cr in
                    var spec = cr["spec"] as! [String: Any]
                    var backup = spec["databaseBackup"] as! [String: Any]
                    backup["path"] = "apic-backups/elsewhere"
                    spec["databaseBackup"] = backup
                    cr["spec"] = spec
                }
            ),
            (
                "schedule", "portalclusters",
                { cr in
                    var spec = cr["spec"] as! [String: Any]
                    var backup = spec["portalBackup"] as! [String: Any]
                    backup["schedule"] = ""
                    spec["portalBackup"] = backup
                    cr["spec"] = spec
                }
            ),
            (
                "originalUID", "managementclusters",
                { cr in cr["spec"] = (cr["spec"] as! [String: Any]).merging(["originalUID": "someone-else"]) { $1 } }
            ),
        ]
        for drift in drifts {
            let before = cluster.fixture
            try cluster.changeFirst(drift.resource, drift.edit)
            let audit = try scanAndAudit()
            let stale = try findings(audit, "DR_KIT_STALE")
            #expect(stale.count == 1, "\(drift.field): \(audit.stdout)")
            #expect(stale.first?["severity"] == "warn")
            #expect(stale.first?["message"]?.contains(" in \(drift.field) (saved ") == true, "\(stale)")
            try cluster.change { $0 = before }
        }
        #expect(try findings(try scanAndAudit(), "DR_KIT_STALE").isEmpty)

        // A Secret changed in the cluster: stale, "changed" only.
        try cluster.change { fixture in
            var secrets = fixture["secrets"] as! [String: Any]
            secrets["portal-backup-secret"] = FakeCluster.secret(
                "portal-backup-secret", ["username": "portal-sftp", "password": "Pw-rotated-55aa"])
            fixture["secrets"] = secrets
        }
        let rotated = try scanAndAudit()
        let stale = try findings(rotated, "DR_KIT_STALE")
        #expect(stale.map { $0["subject"] } == ["portal-backup-secret"])
        #expect(stale.first?["message"]?.contains("the live Secret's data changed") == true)
        #expect(
            !outputs.contains("Pw-rotated-55aa")
                && !outputs.contains(Data("Pw-rotated-55aa".utf8).base64EncodedString()))

        // Saving again says what changed, then the kit matches again.
        try cluster.changeFirst("portalclusters") { cr in
            cr["spec"] = (cr["spec"] as! [String: Any]).merging(["version": "10.0.5.9"]) { $1 }
        }
        let resave = try cli(["save", "--config", cluster.kitConfig, "--output", cluster.kit])
        #expect(resave.status == 0, "\(resave.stderr)")
        outputs += resave.stdout + resave.stderr
        let lines = resave.stdout.split(separator: "\n")
        #expect(
            lines.contains { $0.contains("portal_cr.yaml") && $0.hasSuffix("changed since the last save: version") })
        #expect(lines.contains { $0.contains("management_cr.yaml") && $0.hasSuffix("unchanged since the last save") })
        #expect(
            lines.contains {
                $0.contains("secret-portal-backup-secret.yaml") && $0.hasSuffix("changed since the last save")
            })
        #expect(try findings(try scanAndAudit(), "DR_KIT_STALE").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cluster.kit).allSatisfy { !$0.contains(".tmp-") })
        #expect(
            try Config.load(URL(fileURLWithPath: cluster.kitConfig)).database.path
                == cluster.dir.path("dr-audit.sqlite"))

        // The kit's age: in the metrics and report, and DR_KIT_OLD (info) past kit.maxAge.
        let late = UTC.rfc3339(Date().addingTimeInterval(40 * 86400))
        let old = try cli(["audit", "--config", cluster.kitConfig, "--now", late, "--format", "json"])
        #expect(try findings(old, "DR_KIT_OLD").first?["severity"] == "info")
        let metrics = try cli(["metrics", "--config", cluster.kitConfig, "--output", cluster.dir.path("m.prom")])
        #expect(metrics.status == 0, "\(metrics.stderr)")
        let prom = try String(contentsOfFile: cluster.dir.path("m.prom"), encoding: .utf8)
        let age = try #require(
            prom.split(separator: "\n").first { $0.hasPrefix("dr_audit_kit_age_seconds ") }.flatMap {
                Double($0.split(separator: " ")[1])
            })
        #expect(age >= 0 && age < 600)
        let report = try cli([
            "report", "--config", cluster.kitConfig, "--format", "markdown", "--output", cluster.dir.path("r.md"),
        ])
        #expect(report.status == 0)
        #expect(try String(contentsOfFile: cluster.dir.path("r.md"), encoding: .utf8).contains("- DR kit: saved "))

        // No secret value in any output, nor in the index (digests only).
        for form in FakeCluster.secretForms + [cluster.token] {
            #expect(!outputs.contains(form), "output leaks \(form.prefix(4))…")
        }
        let index = try Data(contentsOf: URL(fileURLWithPath: cluster.dir.path("dr-audit.sqlite")))
        for form in FakeCluster.secretForms + ["Pw-rotated-55aa"] {
            #expect(index.range(of: Data(form.utf8)) == nil, "index leaks \(form.prefix(4))…")
        }
    }

    @Test func withoutSecretsEverythingElseIsWritten() throws {
        let cluster = try FakeCluster(crs: FakeCluster.separateCRs())
        defer { withExtendedLifetime(cluster) {} }
        let save = try cli([
            "save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.kit, "--no-secrets",
        ])
        #expect(save.status == 0, "\(save.stderr)")
        #expect(!save.stdout.contains("note:"))
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: cluster.kit)) == [
                "portal_cr.yaml", "management_cr.yaml", "dr-audit.yaml",
            ])
        #expect(save.stdout.contains("Secrets not written (--no-secrets)"))
        let config = try Config.load(URL(fileURLWithPath: cluster.kitConfig))
        #expect(config.portal?.secret == nil && config.portal?.encryptionSecret == nil)
        #expect(try cli(["scan", "--config", cluster.kitConfig]).status == 0)
        let audit = try cli(["audit", "--config", cluster.kitConfig, "--now", testNowText, "--format", "json"])
        #expect(!(try findingCodes(audit)).contains("DR_KIT_STALE"))

        // Secrets an earlier save wrote stay, and the operator is told they are no longer part of the kit.
        #expect(try cli(["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.kit]).status == 0)
        let again = try cli(["save", "--config", cluster.kitConfig, "--output", cluster.kit, "--no-secrets"])
        #expect(again.stdout.contains("note: secret-portal-backup-secret.yaml is from an earlier save"))
        #expect(FileManager.default.fileExists(atPath: cluster.dir.path("kit/secret-portal-backup-secret.yaml")))
    }

    @Test func badInputIsOneLineAndChangesNothing() throws {
        let cluster = try FakeCluster(crs: FakeCluster.separateCRs())
        defer { withExtendedLifetime(cluster) {} }
        func expectOneLine(_ args: [String], mentions: String) throws {
            let r = try cli(args)
            #expect(r.status == 3, "\(args): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(r.stderr.contains(mentions), "\(r.stderr)")
            #expect(!r.stderr.contains(cluster.token))
        }
        try "database: ./x.sqlite\nportal: {cr: ./p.yaml}\n".write(
            toFile: cluster.dir.path("files.yaml"), atomically: true, encoding: .utf8)
        try expectOneLine(
            ["save", "--config", cluster.dir.path("files.yaml"), "--output", cluster.kit], mentions: "live cluster")
        try "not a folder".write(toFile: cluster.dir.path("plain"), atomically: true, encoding: .utf8)
        try expectOneLine(
            ["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.dir.path("plain")],
            mentions: "is not a folder")
        // A folder holding other things (here the operator's own config) is not written into, nor made private.
        let folderMode = try mode(cluster.dir.url.path)
        try expectOneLine(
            ["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.dir.url.path],
            mentions: "holds no kit an earlier dr-audit save wrote")
        #expect(try mode(cluster.dir.url.path) == folderMode)
        #expect(!FileManager.default.fileExists(atPath: cluster.dir.path("portal_cr.yaml")))
        let kubeconfig = try String(contentsOfFile: cluster.dir.path("kubeconfig"), encoding: .utf8)
        try kubeconfig.replacingOccurrences(of: cluster.token, with: "wrong").write(
            toFile: cluster.dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        try expectOneLine(
            ["save", "--config", cluster.dir.path("live.yaml"), "--output", cluster.kit], mentions: "401 Unauthorized")
        #expect(!FileManager.default.fileExists(atPath: cluster.kit))
    }
}
