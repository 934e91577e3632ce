@testable import DRAudit
import DRAuditCore
import Foundation
import Testing

/// The live cluster source against scripts/fake-kube-api.py over TLS (the test CA of scripts/test-servers.sh).
@Suite(.serialized)
struct LiveClusterTests {
    let token = "kube-token-\(UUID().uuidString)"

    /// The sample environment with its cluster exports served by a fake API server instead.
    func environment(maxPage: Int = 25, namespace: String = "apic") throws -> (TempDir, String, ScriptServer) {
        let server = try S3Server.running() // the same test CA signs the fake API server's certificate
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        func items(_ file: String) throws -> [[String: Any]] {
            let list = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appendingPathComponent(file))) as! [String: Any]
            // The API server's List answers carry no kind on their items.
            return (list["items"] as! [[String: Any]]).map { var item = $0; item["kind"] = nil; item["apiVersion"] = nil; return item }
        }
        let fixture = ["portalbackups": try items("portalbackups.json"), "managementbackups": try items("managementbackups.json")]
        try JSONSerialization.data(withJSONObject: fixture).write(to: dir.url.appendingPathComponent("fixture.json"))
        let certDir = URL(fileURLWithPath: server.caBundle).deletingLastPathComponent()
        let api = try ScriptServer(script: "fake-kube-api.py", [
            "--cert", certDir.appendingPathComponent("server.crt").path, "--key", certDir.appendingPathComponent("server.key").path,
            "--token", token, "--fixture", dir.path("fixture.json"), "--namespace", "apic", "--max-page", String(maxPage)])
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
        text = text.replacingOccurrences(of: "cluster:\n  portalBackups: ./portalbackups.json\n  managementBackups: ./managementbackups.json\n",
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
        #expect(codes.contains("BACKUP_FAILED")) // the Failed ManagementBackup came through the API
        #expect(!codes.contains("OBJECT_WITHOUT_CR"))
        #expect(!(scan.stdout + scan.stderr + audit.stdout).contains(token))
        let index = try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite"))
        #expect(index.range(of: Data(token.utf8)) == nil)
    }

    @Test func wrongTokenForbiddenNamespaceAndUnverifiedTLS() throws {
        let (dir, config, api) = try environment()
        defer { withExtendedLifetime((dir, api)) {} }
        let kubeconfig = try String(contentsOfFile: dir.path("kubeconfig"), encoding: .utf8)

        try kubeconfig.replacingOccurrences(of: token, with: "wrong-token").write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        let unauthorized = try cli(["scan", "--config", config])
        #expect(unauthorized.status == 3)
        #expect(unauthorized.stderr.contains("401 Unauthorized"))
        #expect(!unauthorized.stderr.contains("wrong-token"))
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.stdout.contains("CLUSTER_UNREACHABLE"))

        try kubeconfig.replacingOccurrences(of: "namespace: apic}", with: "namespace: other}").write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        let forbidden = try cli(["scan", "--config", config])
        #expect(forbidden.stderr.contains("403 Forbidden"))
        #expect(forbidden.stderr.contains("namespace other"))

        // Without the CA the server is not trusted; insecure-skip-tls-verify is honoured only when set.
        let noCA = kubeconfig.split(separator: "\n").filter { !$0.contains("certificate-authority-data") }.joined(separator: "\n")
        try noCA.write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        let untrusted = try cli(["scan", "--config", config])
        #expect(untrusted.status == 3)
        #expect(untrusted.stderr.lowercased().contains("certificate"))
        try noCA.replacingOccurrences(of: "    server:", with: "    insecure-skip-tls-verify: true\n    server:")
            .write(toFile: dir.path("kubeconfig"), atomically: true, encoding: .utf8)
        #expect(try cli(["scan", "--config", config]).status == 0)
    }

    @Test func kubeconfigParsing() throws {
        let document = try Documents.parse("""
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
        #expect(throws: DocumentError("contexts has no entry named z")) { try KubeEndpoint.fromKubeconfig(document, context: "z") }
    }
}
