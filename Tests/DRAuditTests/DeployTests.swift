import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// The deployment files stay valid: every manifest parses, and the in-cluster config is a config dr-audit accepts.
struct DeployTests {
    let folder = TestServers.repoRoot.appendingPathComponent("deploy/kubernetes")

    @Test func manifestsParseAndTheConfigIsAccepted() throws {
        var kinds: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).filter({ $0.hasSuffix(".yaml") })
            .sorted()
        {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            for part in text.components(separatedBy: "\n---\n") {
                let document = try Documents.parse(part, name: file)
                kinds.append(try #require(document["kind"]?.string, "\(file) has a document without kind"))
                if document["kind"]?.string == "ConfigMap", let yaml = document["data", "dr-audit.yaml"]?.string {
                    let config = try Config.parse(
                        try Documents.parse(yaml, name: "dr-audit.yaml"),
                        file: URL(fileURLWithPath: "/etc/dr-audit/dr-audit.yaml"))
                    #expect(config.cluster?.inCluster == true)
                    #expect(config.portal?.cr == nil)
                    #expect(config.database.path == "/var/lib/dr-audit/dr-audit.sqlite")
                }
            }
        }
        #expect(
            Set(kinds) == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "PersistentVolumeClaim", "CronJob"])
    }

    @Test func theRoleGrantsOnlyReadsAndOnlyNamedSecrets() throws {
        let text = try String(contentsOf: folder.appendingPathComponent("rbac.yaml"), encoding: .utf8)
        let role = try #require(
            try text.components(separatedBy: "\n---\n").map { try Documents.parse($0, name: "rbac.yaml") }
                .first { $0["kind"]?.string == "Role" })
        for rule in role["rules"]?.items ?? [] {
            let verbs = Set(rule["verbs"]?.items?.compactMap(\.string) ?? [])
            #expect(verbs.isSubset(of: ["get", "list"]))
            if rule["resources"]?.items?.contains(where: { $0.string == "secrets" }) == true {
                #expect(verbs == ["get"])
                let named = rule["resourceNames"]?.items?.count ?? 0
                #expect(named > 0)
            }
        }
    }
}
