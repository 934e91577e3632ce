import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// The live cluster source against scripts/fake-kube-api.py over TLS (the test CA of scripts/test-servers.sh).
@Suite(.serialized)
struct LiveClusterTests {
    let token = "kube-token-\(UUID().uuidString)"

    /// The sample environment with its cluster exports served by a fake API server instead.
    func environment(
        maxPage: Int = 25, namespace: String = "apic", extraFixture: [String: Any] = [:],
        omit: [String] = []
    ) throws -> (TempDir, String, ScriptServer) {
        let server = try S3Server.running()  // the same test CA signs the fake API server's certificate
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        var fixture = try apiBackupLists(dir)
        fixture.merge(extraFixture) { $1 }
        for key in omit { fixture[key] = nil }
        try JSONSerialization.data(withJSONObject: fixture).write(to: dir.url.appendingPathComponent("fixture.json"))
        let certDir = URL(fileURLWithPath: server.caBundle).deletingLastPathComponent()
        let api = try ScriptServer(
            script: "fake-kube-api.py",
            [
                "--cert", certDir.appendingPathComponent("server.crt").path, "--key",
                certDir.appendingPathComponent("server.key").path,
                "--token", token, "--fixture", dir.path("fixture.json"), "--namespace", "apic", "--max-page",
                String(maxPage),
            ])
        let ca = try Data(contentsOf: URL(fileURLWithPath: server.caBundle)).base64EncodedString()
        try """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod-cluster
          cluster:
            server: https://127.0.0.1:\(api.port)
            certificate-authority-data: \(ca)
        contexts:
        - name: prod
          context: {cluster: prod-cluster, user: auditor, namespace: \(namespace)}
        users:
        - name: auditor
          user:
            token: \(token)
        """.write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        var text = try String(contentsOfFile: config.path, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "cluster:\n  portalBackups: ./portalbackups.json\n  managementBackups: ./managementbackups.json\n",
            with: "cluster:\n  kubeconfig: ./kubeconfig\n")
        try text.write(toFile: config.path, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: dir.url.appendingPathComponent("portalbackups.json"))
        try FileManager.default.removeItem(at: dir.url.appendingPathComponent("managementbackups.json"))
        return (dir, config.path, api)
    }

    @Test func readsBackupCRsPageByPageOverVerifiedTLS() throws {
        let (dir, config, api) = try environment()
        defer { withExtendedLifetime((dir, api)) {} }
        let scan = try cli(["scan", "--config", config])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("cluster: https://127.0.0.1:\(api.port) namespace apic: 109 records"))
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 1)
        let codes = Set((try json(audit.stdout)["findings"] as? [[String: String]] ?? []).map { $0["code"]! })
        #expect(codes.contains("BACKUP_FAILED"))  // the Failed ManagementBackup came through the API
        #expect(!codes.contains("OBJECT_WITHOUT_CR"))
        #expect(!(scan.stdout + scan.stderr + audit.stdout).contains(token))
        let index = try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite"))
        #expect(index.range(of: Data(token.utf8)) == nil)
    }

    @Test func wrongTokenForbiddenNamespaceAndUnverifiedTLS() throws {
        let (dir, config, api) = try environment()
        defer { withExtendedLifetime((dir, api)) {} }
        let kubeconfig = try String(contentsOfFile: dir.path("kubeconfig"), encoding: .utf8)

        try kubeconfig.replacingOccurrences(of: token, with: "wrong-token").write(
            toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        let unauthorized = try cli(["scan", "--config", config])
        #expect(unauthorized.status == 3)
        #expect(unauthorized.stderr.contains("401 Unauthorized"))
        #expect(!unauthorized.stderr.contains("wrong-token"))
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.stdout.contains("CLUSTER_UNREACHABLE"))

        try kubeconfig.replacingOccurrences(of: "namespace: apic}", with: "namespace: other}").write(
            toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        let forbidden = try cli(["scan", "--config", config])
        #expect(forbidden.stderr.contains("403 Forbidden"))
        #expect(forbidden.stderr.contains("namespace other"))

        // Without the CA the server is not trusted; insecure-skip-tls-verify is honoured only when set.
        let noCA = kubeconfig.split(separator: "\n").filter { !$0.contains("certificate-authority-data") }.joined(
            separator: "\n")
        try noCA.write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        let untrusted = try cli(["scan", "--config", config])
        #expect(untrusted.status == 3)
        #expect(untrusted.stderr.lowercased().contains("certificate"))
        try noCA.replacingOccurrences(of: "    server:", with: "    insecure-skip-tls-verify: true\n    server:")
            .write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        #expect(try cli(["scan", "--config", config]).status == 0)
    }

    @Test func crsAndSecretsFromTheAPIServer() throws {
        func secret(_ name: String, _ data: [String: String]) -> [String: Any] {
            [
                "apiVersion": "v1", "kind": "Secret", "metadata": ["name": name, "namespace": "apic"],
                "data": data.mapValues { Data($0.utf8).base64EncodedString() },
            ]
        }
        let backup: [String: Any] = [
            "protocol": "sftp", "host": "sftp.example.com", "path": "/b", "credentials": "portal-backup-secret",
            "schedule": "0 1 * * *",
        ]
        let extra: [String: Any] = [
            "portalclusters": [
                [
                    "metadata": ["name": "portal", "uid": "u-1"],
                    "spec": [
                        "originalUID": "5f1c", "encryptionSecret": ["secretName": "apic-ptl-enc-key"],
                        "portalBackup": backup,
                    ],
                ]
            ],
            "managementclusters": [
                [
                    "metadata": ["name": "management"],
                    "spec": [
                        "originalUID": "0e88",
                        "databaseBackup": [
                            "protocol": "objstore", "host": "s3.example.com/us-east-1",
                            "path": "b/m", "credentials": "mgmt-backup-secret",
                            "schedule": "0 1 * * *",
                        ],
                    ],
                ]
            ],
            "secrets": [
                "portal-backup-secret": secret(
                    "portal-backup-secret", ["username": "u", "password": SampleEnvironment.portalPassword]),
                "mgmt-backup-secret": secret(
                    "mgmt-backup-secret", ["key": "AK", "keysecret": SampleEnvironment.managementSecret]),
                "apic-ptl-enc-key": secret("apic-ptl-enc-key", ["encryption_secret": "0123456789abcdef"]),
            ],
        ]
        let (dir, config, api) = try environment(extraFixture: extra)
        defer { withExtendedLifetime((dir, api)) {} }
        var text = try String(contentsOfFile: config, encoding: .utf8)
        for line in [
            "  cr: ./portal_cr.yaml\n", "  secret: ./portal-backup-secret.yaml\n",
            "  encryptionSecret: ./portal_enc_key.yaml\n",
            "  cr: ./management_cr.yaml\n", "  secret: ./mgmt-backup-secret.yaml\n",
        ] {
            #expect(text.contains(line))
            text = text.replacingOccurrences(of: line, with: "")
        }
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let scan = try cli(["scan", "--config", config])
        #expect(scan.status == 0, "\(scan.stderr)")
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 1, "\(audit.stdout)\(audit.stderr)")
        let codes = Set((try json(audit.stdout)["findings"] as? [[String: String]] ?? []).map { $0["code"]! })
        #expect(
            codes.isDisjoint(with: [
                "BACKUP_SECRET_INVALID", "ENCRYPTION_SECRET_NOT_SAVED", "ENCRYPTION_SECRET_MISMATCH",
                "ORIGINAL_UID_MISSING",
            ]))
        let all = scan.stdout + scan.stderr + audit.stdout + audit.stderr
        #expect(!all.contains(SampleEnvironment.portalPassword) && !all.contains(SampleEnvironment.managementSecret))

        // A CR the namespace does not hold is a one-line error naming the API server.
        try text.replacingOccurrences(of: "portal:\n", with: "portal:\n  crName: missing-portal\n").write(
            toFile: config, atomically: true, encoding: .utf8)
        let missing = try cli(["scan", "--config", config])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("no PortalCluster or APIConnectCluster named missing-portal in namespace apic"))
    }

    @Test func aMissingResourceIsA404Error() throws {
        let (dir, config, api) = try environment(omit: ["managementbackups"])
        defer { withExtendedLifetime((dir, api)) {} }
        let scan = try cli(["scan", "--config", config])
        #expect(scan.status == 3)
        #expect(scan.stderr.contains("404: no managementbackups in namespace apic"))
    }

    @Test func kubeconfigParsing() throws {
        let document = try Documents.parse(
            """
            current-context: a
            clusters: [{name: c, cluster: {server: "https://k.example.com:6443/", certificate-authority-data: "Q0E="}}]
            contexts: [{name: a, context: {cluster: c, user: u, namespace: apic}}, {name: b, context: {cluster: c, user: v}}]
            users: [{name: u, user: {client-certificate-data: "Q0VSVA==", client-key-data: "S0VZ"}}, {name: v, user: {exec: {command: x}}}]
            """, name: "kubeconfig")
        let (endpoint, files) = try KubeEndpoint.fromKubeconfig(document, context: nil)
        #expect(endpoint.server == "https://k.example.com:6443")
        #expect(endpoint.caPEM == Data("CA".utf8))
        #expect(endpoint.clientCertificatePEM == Data("CERT".utf8))
        #expect(endpoint.clientKeyPEM == Data("KEY".utf8))
        #expect(endpoint.namespace == "apic")
        #expect(files.isEmpty)
        #expect(!"\(endpoint)".contains("KEY"))
        #expect(throws: DocumentError.self) { try KubeEndpoint.fromKubeconfig(document, context: "b") }
        #expect(throws: DocumentError("contexts has no entry named z")) {
            try KubeEndpoint.fromKubeconfig(document, context: "z")
        }
    }
}
