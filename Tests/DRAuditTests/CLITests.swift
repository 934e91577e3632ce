import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// The CLI contract, end to end, through the real binary on generated local trees.
@Suite(.serialized)
struct CLITests {
    func environment(_ options: SampleEnvironment.Options = sampleOptions(), name: String = #function) throws -> (
        TempDir, String
    ) {
        let dir = try TempDir(name)
        let config = try SampleEnvironment.write(to: dir.url, options: options)
        return (dir, config.path)
    }

    @Test func scanPairsAuditOnTheSample() throws {
        let (dir, config) = try environment()
        // From another working directory: nothing may depend on the current folder.
        let scan = try cli(["scan", "--config", config], cwd: "/")
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("portal: local:\(dir.url.path)/storage/portal:"))
        #expect(scan.stdout.split(separator: "\n").count == 3)

        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(pairs.status == 0, "\(pairs.stderr)")
        let doc = try json(pairs.stdout)
        #expect(doc["generatedAt"] as? String == testNowText)
        #expect(doc["toleranceSeconds"] as? Int == 1800)
        let list = try #require(doc["pairs"] as? [[String: Any]])
        // 22 nights, less the one missing a site: the interrupted and the late backup's nights pair through the
        // recovery window of the backup before them.
        #expect(list.count == 21)
        let points = list.map { $0["restorePoint"] as! String }
        #expect(points == points.sorted(by: >))
        #expect(
            points.allSatisfy {
                $0.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"#, options: .regularExpression) != nil
            })
        // The run's middle (01:00:45) lies in the window of the night before's backup: nearer than tonight's
        // backup point (01:04:50), so it is a point-in-time pair, 40 s from each end of the run.
        let newest = list[0]
        #expect(newest["restorePoint"] as? String == "2026-03-15T01:00:45Z")
        #expect(newest["skewSeconds"] as? Int == 40)
        let management = try #require(newest["management"] as? [String: Any])
        #expect(management["id"] as? String == "20260308-010000F_20260314-010000I")
        #expect(management["time"] as? String == "2026-03-14T01:04:50Z")
        #expect(management["recovery"] as? String == "pitr")
        #expect(management["pitrTarget"] as? String == "2026-03-15T01:00:45Z")
        let byBackup = try #require(
            list.first { ($0["management"] as? [String: Any])?["recovery"] as? String == "backup" })
        #expect(byBackup["restorePoint"] as? String == "2026-02-28T01:04:50Z")  // just after the WAL hole
        #expect((byBackup["management"] as? [String: Any])?["pitrTarget"] as? String == "2026-02-28T01:04:51Z")
        let portal = try #require(newest["portal"] as? [String: Any])
        #expect(portal["system"] as? String == "_portal_system_backup-20260315.010005.tar.gz")
        #expect(portal["start"] as? String == "2026-03-15T01:00:05Z")
        #expect(portal["end"] as? String == "2026-03-15T01:01:25Z")
        #expect((portal["sites"] as? [String])?.count == 3)
        let incomplete = try #require(doc["incompleteRuns"] as? [[String: Any]])
        #expect(incomplete.count == 1)
        #expect(incomplete[0]["start"] as? String == "2026-03-10T01:00:05Z")
        #expect(incomplete[0]["missingSites"] as? [String] == ["portal-web.think.org@sales-org@main-catalog"])
        #expect(incomplete[0].keys.contains("system"))
        #expect((doc["manualRuns"] as? [Any])?.isEmpty == true)
        let windows = try #require(doc["recoveryWindows"] as? [[String: Any]])
        #expect(windows.map { $0["to"] as? String } == ["2026-02-27T11:55:00Z", "2026-03-15T11:50:00Z"])
        #expect(windows.allSatisfy { $0["timeline"] as? Int == 1 })
        let unpaired = try #require(doc["unpaired"] as? [String: [String]])
        // The late backup (04:34:50) is the base of the next night's point-in-time pair; every run pairs.
        #expect(unpaired["management"] == [])
        #expect(unpaired["portal"] == [])

        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 1, "\(audit.stdout)\(audit.stderr)")
        let report = try json(audit.stdout)
        #expect(report["status"] as? String == "warn")
        let findings = try #require(report["findings"] as? [[String: String]])
        #expect(findings.allSatisfy { Set($0.keys) == ["code", "severity", "subject", "message"] })
        let codes = Set(findings.filter { $0["severity"] != "info" }.map { $0["code"]! })
        #expect(
            codes == [
                "BACKUP_FAILED", "MGMT_BACKUP_INCOMPLETE", "MGMT_WAL_GAP", "PORTAL_SITE_MISSING", "UNRECOGNIZED_OBJECT",
            ])

        let table = try cli(["audit", "--config", config, "--now", testNowText])
        #expect(table.status == 1)
        #expect(table.stdout.hasPrefix("Audit: WARN"))
    }

    @Test func rpoAndToleranceChangeTheVerdict() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        let scan = try cli(["scan", "--config", config])
        #expect(scan.status == 0, "\(scan.stderr)")
        let late = try cli(["audit", "--config", config, "--now", "2026-03-16T04:00:00Z", "--format", "json"])
        #expect(late.status == 2)
        #expect(try json(late.stdout)["status"] as? String == "fail")
        #expect(late.stdout.contains("RPO_EXCEEDED"))

        let strict = try cli([
            "pairs", "--config", config, "--now", testNowText, "--tolerance", "30s", "--format", "json",
        ])
        // Every run spans 80 s: no point lies within 30 s of both its ends.
        #expect(strict.status == 0)
        #expect((try json(strict.stdout)["pairs"] as? [Any])?.isEmpty == true)
        #expect(try json(strict.stdout)["toleranceSeconds"] as? Int == 30)
    }

    @Test func aHealthyEnvironmentIsOK() throws {
        var options = sampleOptions()
        options.missedSiteDaysAgo = []
        options.failedManagementDaysAgo = []
        options.misalignedDaysAgo = []
        options.unrecognizedFiles = []
        options.walHoleDaysAgo = []
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        let scan = try cli(["scan", "--config", config])
        #expect(scan.status == 0, "\(scan.stderr)")
        let audit = try cli(["audit", "--config", config, "--now", testNowText])
        #expect(audit.status == 0, "\(audit.stdout)")
        #expect(audit.stdout.hasPrefix("Audit: OK"))
    }

    @Test func auditWithoutAScanFails() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 2)
        #expect(audit.stdout.contains("TARGET_NOT_SCANNED"))
        #expect(audit.stdout.contains("NO_RESTORABLE_PAIR"))
    }

    @Test func unreachableTargetIsAFailedScanAndAFinding() throws {
        let (dir, config) = try environment()
        try FileManager.default.removeItem(at: dir.url.appendingPathComponent("storage/management"))
        let scan = try cli(["scan", "--config", config])
        #expect(scan.status == 3)
        #expect(scan.stderr.contains("management scan failed"))
        #expect(scan.stderr.contains("storage/management"))
        // Without --verbose, one line per error: no log line repeating it.
        #expect(scan.stderr.split(separator: "\n").count == 1, "\(scan.stderr)")
        let verbose = try cli(["scan", "--config", config, "--verbose"])
        #expect(verbose.stderr.contains("scan failed"))
        #expect(verbose.stderr.split(separator: "\n").count > 1)
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 2)
        #expect(audit.stdout.contains("TARGET_UNREACHABLE"))
    }

    @Test func badInputIsOneLineAndExitThree() throws {
        let (dir, config) = try environment()
        func expectOneLine(_ args: [String], mentions: String) throws {
            let r = try cli(args)
            #expect(r.status == 3, "\(args): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(r.stderr.contains(mentions), "\(r.stderr)")
            #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack"))
        }
        try expectOneLine(["scan", "--config", dir.path("missing.yaml")], mentions: "missing.yaml")
        try expectOneLine(["audit", "--config", config, "--now", "yesterday"], mentions: "--now")
        try expectOneLine(["pairs", "--config", config, "--tolerance", "soon"], mentions: "--tolerance")

        let original = try String(contentsOfFile: config, encoding: .utf8)
        try (original + "pairing: [unclosed\n").write(toFile: config, atomically: true, encoding: .utf8)
        try expectOneLine(["scan", "--config", config], mentions: "dr-audit.yaml")
        try original.replacingOccurrences(of: "tolerance: 30m", with: "tolerance: 30x").write(
            toFile: config, atomically: true, encoding: .utf8)
        try expectOneLine(["scan", "--config", config], mentions: "pairing.tolerance")
        try original.replacingOccurrences(of: "  rpo: 26h", with: "  rpo: 26h\n  tolerence: 1h").write(
            toFile: config, atomically: true, encoding: .utf8)
        try expectOneLine(["scan", "--config", config], mentions: "pairing.tolerence")
        try original.write(toFile: config, atomically: true, encoding: .utf8)

        try "kind: PortalCluster\nmetadata: {name: portal}\nspec: {}\n".write(
            toFile: dir.path("portal_cr.yaml"), atomically: true, encoding: .utf8)
        try expectOneLine(["scan", "--config", config], mentions: "portal_cr.yaml")
        let scans: [Int] = try Index(path: dir.path("dr-audit.sqlite")).query("SELECT count(*) FROM scans")
        #expect(scans == [0])  // a config mistake stops before anything is written
    }

    @Test func credentialsNeverReachOutputOrIndex() throws {
        let (dir, config) = try environment()
        // A broken Secret beside a good one: the audit reports it without echoing any value.
        let broken = """
            apiVersion: v1
            kind: Secret
            metadata: {name: mgmt-backup-secret}
            data:
              username: \(Data(SampleEnvironment.managementKey.utf8).base64EncodedString())
              password: "\(SampleEnvironment.managementSecret) is not base64"
            """
        try broken.write(toFile: dir.path("mgmt-backup-secret.yaml"), atomically: true, encoding: .utf8)
        var outputs = ""
        for args in [
            ["scan"], ["pairs", "--format", "json"], ["audit", "--format", "json"], ["audit"], ["scan", "--verbose"],
        ] {
            let r = try cli(
                args
                    + ["--config", config, "--now", testNowText].filter {
                        !(args[0] == "scan" && ($0 == "--now" || $0 == testNowText))
                    })
            outputs += r.stdout + r.stderr
        }
        #expect(outputs.contains("BACKUP_SECRET_INVALID"))
        #expect(outputs.contains("data.password is not valid base64"))
        let index = try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite"))
        for secret in [
            SampleEnvironment.portalPassword, SampleEnvironment.managementSecret, SampleEnvironment.managementKey,
        ] {
            for form in [secret, Data(secret.utf8).base64EncodedString()] {
                #expect(!outputs.contains(form), "output leaks \(form.prefix(3))…")
                #expect(index.range(of: Data(form.utf8)) == nil, "index leaks \(form.prefix(3))…")
            }
        }
    }

    @Test func twoScansAtOnceOnOneIndexBothFinish() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        let processes = (0..<2).map { _ in
            let p = Process()
            p.executableURL = binaryURL()
            p.arguments = ["scan", "--config", config]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            return p
        }
        for p in processes { try p.run() }
        for p in processes { p.waitUntilExit() }
        #expect(processes.map(\.terminationStatus) == [0, 0])
        let index = try Index(path: dir.path("dr-audit.sqlite"))
        let statuses: [String] = try index.query("SELECT status FROM scans ORDER BY id")
        #expect(statuses == Array(repeating: "ok", count: 6))
        // Whichever came second found nothing new: every object is present exactly once.
        let duplicates: [Int] = try index.query(
            "SELECT count(*) FROM (SELECT key FROM objects WHERE gone_scan IS NULL GROUP BY source, key HAVING count(*) > 1)"
        )
        #expect(duplicates == [0])
    }

    @Test func metricsAndRestorePlan() throws {
        let (dir, config) = try environment()
        #expect(try cli(["scan", "--config", config]).status == 0)
        let metrics = try cli([
            "metrics", "--config", config, "--now", testNowText, "--output", dir.path("dr-audit.prom"),
        ])
        #expect(metrics.status == 0, "\(metrics.stderr)")
        let prom = try String(contentsOfFile: dir.path("dr-audit.prom"), encoding: .utf8)
        #expect(prom.contains("dr_audit_restorable_pairs 21\n"))
        #expect(
            prom.contains(
                "dr_audit_recovery_window_end_timestamp_seconds \(Int(UTC.parseRFC3339("2026-03-15T11:50:00Z")!.timeIntervalSince1970))\n"
            ))
        #expect(prom.contains("dr_audit_wal_newest_segment_age_seconds 600\n"))
        #expect(prom.contains("dr_audit_audit_status 1\n"))
        #expect(prom.contains("dr_audit_objects{source=\"portal\"} 88\n"))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.contains(".tmp-") }.isEmpty)
        let badOutput = try cli(["metrics", "--config", config, "--output", dir.path("no/such/folder/x.prom")])
        #expect(badOutput.status == 3)
        #expect(badOutput.stderr.contains("x.prom"))

        let plan = try cli(["restore-plan", "--config", config, "--now", testNowText])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("restoring to 2026-03-15T01:00:45Z"))
        #expect(plan.stdout.contains("backupName: \"mgmt-record-20260308-010000f-20260314-010000i\""))
        #expect(plan.stdout.contains("pitrTarget: \"2026-03-15 01:00:45+00\""))
        #expect(plan.stdout.contains("systemName: \"_portal_system_backup-20260315.010005.tar.gz\""))
        #expect(try planKinds(plan.stdout) == ["ManagementRestore"] + Array(repeating: "PortalRestore", count: 4))
        let earlier = try cli([
            "restore-plan", "--config", config, "--now", testNowText, "--at", "2026-03-10T12:00:00Z",
        ])
        #expect(earlier.stdout.contains("restoring to 2026-03-09T01:00:45Z"))  // the 10th misses a site
        #expect(try planKinds(earlier.stdout) == ["ManagementRestore"] + Array(repeating: "PortalRestore", count: 4))
        let none = try cli(["restore-plan", "--config", config, "--at", "2020-01-01T00:00:00Z"])
        #expect(none.status == 3)
        #expect(none.stderr.contains("no restorable pair has a restore point at or before 2020-01-01T00:00:00Z"))
        #expect(!(plan.stdout + earlier.stdout).contains(SampleEnvironment.portalPassword))
    }

    @Test func reportsRenderInHeadlessChromium() throws {
        let (dir, config) = try environment()
        #expect(try cli(["scan", "--config", config]).status == 0)
        for format in ["markdown", "html", "json"] {
            let r = try cli([
                "report", "--config", config, "--now", testNowText, "--format", format, "--output",
                dir.path("report.\(format)"),
            ])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try String(contentsOfFile: dir.path("report.markdown"), encoding: .utf8).contains("## Site coverage"))
        #expect(
            try json(String(contentsOfFile: dir.path("report.json"), encoding: .utf8))["status"] as? String == "warn")

        // The page must render in a real browser, carry its SVG timeline and no script.
        let chromium = Process()
        chromium.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        chromium.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + dir.path("report.html"),
        ]
        let out = Pipe()
        chromium.standardOutput = out
        chromium.standardError = FileHandle.nullDevice
        try chromium.run()
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        chromium.waitUntilExit()
        #expect(chromium.terminationStatus == 0)
        #expect(dom.contains("<svg"))
        #expect(dom.contains("<circle"))
        // The timeline's parts survive the browser's parser, and the marks their tooltips.
        for part in ["recovery-window", "wal-hole", "pair pitr", "pair backup", "run complete", "backup restorable"] {
            #expect(dom.contains("class=\"\(part)\""), "\(part)")
        }
        #expect(dom.contains("<title>management backup "))
        #expect(dom.contains("Site coverage"))
        #expect(!dom.lowercased().contains("<script"))
    }

    @Test func baselineComparison() throws {
        let (dir, config) = try environment()
        let current = try String(contentsOfFile: dir.path("portal_cr.yaml"), encoding: .utf8)
        // The original as saved before the disaster: other UID, other portal endpoint.
        let original = current.replacingOccurrences(
            of: "  namespace: apic\n", with: "  namespace: apic\n  uid: 11111111-2222-3333-4444-555555555555\n"
        )
        .replacingOccurrences(of: "  originalUID: 5f1c3a9e-7d2b-4e8a-9c61-2b7f0d4e8a11\n", with: "")
        .replacingOccurrences(
            of: "spec:\n", with: "spec:\n  portalUIEndpoint:\n    hosts:\n    - name: portal.old.example.com\n")
        try original.write(toFile: dir.path("portal_cr.original.yaml"), atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(
            of: "  cr: ./portal_cr.yaml\n", with: "  cr: ./portal_cr.yaml\n  baseline: ./portal_cr.original.yaml\n"
        )
        .write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try cli(["scan", "--config", config]).status == 0)
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 2)
        let codes = (try json(audit.stdout)["findings"] as? [[String: String]] ?? []).map { $0["code"]! }
        #expect(codes.contains("ORIGINAL_UID_CHANGED"))
        #expect(codes.contains("ENDPOINT_CHANGED"))
        #expect(!codes.contains("CR_NAME_CHANGED"))

        try "kind: [broken".write(toFile: dir.path("portal_cr.original.yaml"), atomically: true, encoding: .utf8)
        let broken = try cli(["audit", "--config", config, "--now", testNowText])
        #expect(broken.status == 3)
        #expect(broken.stderr.contains("portal_cr.original.yaml"))
    }

    /// A read-only index (root cannot be denied a write, so the commands run as `nobody`): reading commands
    /// work, writing ones fail in one line, and nothing changes.
    @Test func readOnlyIndex() throws {
        let (dir, config) = try environment()
        #expect(try cli(["scan", "--config", config]).status == 0)
        let fm = FileManager.default
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.url.path)
        for name in try fm.contentsOfDirectory(atPath: dir.url.path) where !name.hasPrefix("storage") {
            try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir.path(name))
        }
        // A copy of the binary in the (world-readable) temp folder: the checkout may sit where nobody cannot look.
        try fm.copyItem(atPath: binaryURL().path, toPath: dir.path("dr-audit-copy"))
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path("dr-audit-copy"))
        let before = try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite"))
        func asNobody(_ args: [String]) throws -> CLIResult {
            try cli(["-u", "nobody", "--", dir.path("dr-audit-copy")] + args, executable: "/usr/sbin/runuser")
        }
        let pairs = try asNobody(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(pairs.status == 0, "\(pairs.stderr)")
        #expect((try json(pairs.stdout)["pairs"] as? [Any])?.count == 21)
        for command in ["audit", "scan"] {
            let r = try asNobody([command, "--config", config])
            #expect(r.status == 3)
            #expect(
                r.stderr == "dr-audit: index \(dir.path("dr-audit.sqlite")) is read-only; dr-audit needs to write it\n")
        }
        #expect(try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite")) == before)
    }

    @Test func demoRuns() throws {
        let dir = try TempDir()
        let r = try cli(["demo", "--output", dir.path("demo")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Restorable pairs"))
        #expect(r.stdout.contains("PORTAL_SITE_MISSING"))
        #expect(r.stdout.contains("BACKUP_FAILED"))
        #expect(FileManager.default.fileExists(atPath: dir.path("demo/dr-audit.sqlite")))
    }

    @Test func versionNamesTheToolAndTheIndexSchemaItWrites() throws {
        let r = try cli(["--version"])
        #expect(r.status == 0)
        let newest = try FileManager.default.contentsOfDirectory(
            atPath: TestServers.repoRoot.appendingPathComponent("migrations").path
        ).filter { $0.hasSuffix(".sql") }.max()!.dropLast(4)
        #expect(r.stdout == "dr-audit \(Version.tool) (index schema \(newest))\n")
    }

    /// What `make install` installs: swift-argument-parser's completion scripts, covering every command.
    @Test func completionScriptsForBashZshAndFish() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try cli(["--generate-completion-script", shell])
            #expect(r.status == 0, "\(shell): \(r.stderr)")
            for word in ["scan", "audit", "restore-plan", "save", "init", "no-secrets", "force"] {
                #expect(r.stdout.contains(word), "\(shell) completion lacks \(word)")
            }
        }
    }

    @Test func helpExitsZero() throws {
        let r = try cli(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("scan"))
        #expect(r.stdout.contains("audit"))
    }

    @Test(arguments: [
        (["--bogus"], "dr-audit: Unknown option '--bogus' (see dr-audit --help)\n"),
        (["report"], "dr-audit: Missing expected argument '--output <output>' (see dr-audit --help)\n"),
        (["audit", "--format", "x\u{1B}[2J"], "dr-audit: The value 'x\\x1b[2J' is invalid for '--format <format>'"),
    ])
    func aUsageErrorIsOneEscapedLine(arguments: [String], text: String) throws {
        let r = try cli(arguments)
        #expect(r.status == 3)
        #expect(r.stderr.hasPrefix(text), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stdout.isEmpty)
    }
}
