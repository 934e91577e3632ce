import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// `dr-audit init`: a commented starter config the tool accepts.
@Suite(.serialized)
struct InitTests {
    @Test func aTemplateTheToolAcceptsAndNoOverwriteWithoutForce() throws {
        let dir = try TempDir()
        let first = try cli(["init"], cwd: dir.url.path)
        #expect(first.status == 0, "\(first.stderr)")
        let text = try String(contentsOfFile: dir.path("dr-audit.yaml"), encoding: .utf8)
        #expect(text.hasPrefix("# dr-audit configuration"))
        #expect(text.contains("  # The backup credentials Secret"))
        #expect(text.contains("# cluster:"))
        let config = try Config.load(URL(fileURLWithPath: dir.path("dr-audit.yaml")))
        #expect(config.portal?.cr?.path == dir.path("portal_cr.yaml"))
        #expect(config.kitMaxAge == 30 * 86400)

        let again = try cli(["init"], cwd: dir.url.path)
        #expect(again.status == 3)
        #expect(again.stderr == "dr-audit: \(dir.path("dr-audit.yaml")) exists; give --force to replace it\n")
        #expect(try String(contentsOfFile: dir.path("dr-audit.yaml"), encoding: .utf8) == text)
        #expect(try cli(["init", "--force"], cwd: dir.url.path).status == 0)
    }

    /// File names go into the header comment; U+2028 is a line break to YAML 1.1 parsers, ESC reaches a terminal.
    @Test(arguments: ["l\u{2028}verify: {maxAge: 1h}\u{2028}#.yaml", "e\u{1B}[2J.yaml", "m\u{85}kind: z.yaml"])
    func aFileNameCannotAddKeysOrControlsThroughTheHeaderComment(name: String) throws {
        let dir = try TempDir()
        try """
            kind: PortalCluster
            metadata: {name: portal, namespace: apic}
            spec:
              originalUID: 5f1c3a9e-7d2b-4e8a-9c61-2b7f0d4e8a11
              portalBackup: {protocol: sftp, host: sftp.example.com, path: /backups/portal, credentials: s}

            """.write(toFile: dir.path(name), atomically: true, encoding: .utf8)
        let r = try cli(["init", dir.path(name), "--output", dir.path("new.yaml")])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: dir.path("new.yaml"), encoding: .utf8)
        #expect(text.utf8.allSatisfy { $0 == 0x0A || ($0 >= 0x20 && $0 < 0x7F) })
        let config = try Config.load(URL(fileURLWithPath: dir.path("new.yaml")))
        #expect(config.verifyMaxAge == 7 * 86400)
        #expect(config.portal?.cr?.path == dir.path(name))
    }

    @Test func filledFromTheCRAndSecretFilesGiven() throws {
        let dir = try TempDir()
        try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        let r = try cli([
            "init", dir.path("portal_cr.yaml"), dir.path("management_cr.yaml"), dir.path("portal-backup-secret.yaml"),
            dir.path("portal_enc_key.yaml"), "--output", dir.path("new.yaml"),
        ])
        #expect(r.status == 0, "\(r.stderr)")
        // A CR's Secret not given is a note saying how to save it.
        #expect(r.stdout.contains("management.secret: save the Secret mgmt-backup-secret to ./mgmt-backup-secret.yaml"))
        let config = try Config.load(URL(fileURLWithPath: dir.path("new.yaml")))
        #expect(config.portal?.cr?.path == dir.path("portal_cr.yaml"))
        #expect(config.portal?.secret?.path == dir.path("portal-backup-secret.yaml"))
        #expect(config.portal?.encryptionSecret?.path == dir.path("portal_enc_key.yaml"))
        #expect(config.management?.secret?.path == dir.path("mgmt-backup-secret.yaml"))
        #expect(config.management?.encryptionSecret == nil)  // the sample's management CR names none

        // What init wrote works: with the sample's local copies, the audit runs on it.
        let text = try String(contentsOfFile: dir.path("new.yaml"), encoding: .utf8)
        try text.replacingOccurrences(
            of: "  cr: ./portal_cr.yaml\n",
            with: "  cr: ./portal_cr.yaml\n  target: {protocol: local, path: ./storage/portal}\n"
        ).replacingOccurrences(
            of: "  cr: ./management_cr.yaml\n",
            with: "  cr: ./management_cr.yaml\n  target: {protocol: local, path: ./storage/management}\n"
        ).write(toFile: dir.path("new.yaml"), atomically: true, encoding: .utf8)
        #expect(try cli(["scan", "--config", dir.path("new.yaml")]).status == 0)
        let audit = try cli(["audit", "--config", dir.path("new.yaml"), "--now", testNowText, "--format", "json"])
        #expect(audit.status == 1, "\(audit.stdout)\(audit.stderr)")

        let bad = try cli(["init", dir.path("portalbackups.json"), "--output", dir.path("other.yaml")])
        #expect(bad.status == 3)
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(bad.stderr.contains("portalbackups.json is a List"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("other.yaml")))
    }
}
