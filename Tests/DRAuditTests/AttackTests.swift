import DRAuditCore
import Foundation
import GRDB
import Testing
import Yams

@testable import DRAudit

/// What anyone with write access to the storage, the cluster or the config can put there, tried through the
/// real binary: nothing they write may steer the operator, crash the audit or hang it.

/// Portal site names: C1 controls, separators and bidi controls pass the portal's name rules.
let hostileSite = "evil\u{85}nel\u{9B}2J\u{2028}ls\u{2029}ps\u{202E}rlo\u{2066}iso\u{200F}@org@cat"
/// Stray files, unrecognized: any byte but `/` and NUL, valid UTF-8 (non-UTF-8 bytes are the targets' concern).
let hostileFiles = [
    "stray\u{1B}[2J\u{1B}[31mRED.txt", "forged\nwarn      FAKE_CODE  row.txt", "del\u{7F}.txt", "bidi\u{202E}txt.exe",
    "carriage\rreturn.txt", "z\u{2028}apiVersion: v1\u{2028}kind: ConfigMap.txt", "nel\u{85}x.txt", "csi\u{9B}2J.txt",
    "tab\tbell\u{7}.txt", "isolate\u{2067}x\u{2069}.txt",
]

/// No control or bidi character but the line breaks the output itself writes.
func rawControls(_ text: String) -> [String] {
    text.unicodeScalars.filter { DisplayText.needsEscape($0) && $0 != "\n" }.map { String(format: "U+%04X", $0.value) }
}

/// Runs the binary with stdout sent to `stdout` (a path such as /dev/full).
func cli(_ arguments: [String], stdout path: String) throws -> CLIResult {
    let process = Process()
    process.executableURL = binaryURL()
    process.arguments = arguments
    guard let out = FileHandle(forWritingAtPath: path) else { throw DRAuditError("cannot open \(path)") }
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: "", stderr: String(decoding: errData, as: UTF8.self))
}

/// Peak RSS (KiB) and exit status of the binary, measured by a small parent (python3's wait4): a child spawned by
/// this test process would report this process's peak as its own.
func peakRSS(_ arguments: [String]) throws -> (kib: Int, status: Int) {
    let script = """
        import os, sys
        pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                             file_actions=[(os.POSIX_SPAWN_OPEN, 1, '/dev/null', os.O_WRONLY, 0)])
        _, status, usage = os.wait4(pid, 0)
        print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
        """
    let r = try cli(["python3", "-c", script, binaryURL().path] + arguments, executable: "/usr/bin/env")
    let parts = r.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    guard parts.count == 2 else { throw DRAuditError("peak RSS not measured: \(r.stdout) \(r.stderr)") }
    return (parts[0], parts[1])
}

func oneLine(_ text: String) -> Bool { text.hasSuffix("\n") && text.dropLast().firstIndex(of: "\n") == nil }

@Suite(.serialized)
struct HostileNameTests {
    func sample(name: String = #function) throws -> (TempDir, URL) {
        let dir = try TempDir(name)
        var options = sampleOptions()
        // The second site is the one day -5's run misses: a finding and an incomplete run name it.
        options.sites = [options.sites[0], hostileSite, options.sites[2]]
        options.unrecognizedFiles = hostileFiles
        return (dir, try SampleEnvironment.write(to: dir.url, options: options))
    }

    /// Every output of every command, on one target: text escaped, JSON exact.
    func checkOutputs(_ config: URL, dir: TempDir, target: String) throws {
        let scan = try cli(["scan", "--config", config.path])
        #expect(scan.status == 0, "\(target): \(scan.stderr)")
        #expect(rawControls(scan.stdout + scan.stderr).isEmpty, "\(target) scan")

        let pairsJSON = try cli(["pairs", "--config", config.path, "--now", testNowText, "--format", "json"])
        #expect(pairsJSON.status == 0, "\(target): \(pairsJSON.stderr)")
        let pairs = try json(pairsJSON.stdout)
        let incomplete = try #require(pairs["incompleteRuns"] as? [[String: Any]])
        #expect(incomplete.contains { ($0["missingSites"] as? [String]) == [hostileSite] }, "\(target)")
        let sites = (pairs["pairs"] as? [[String: Any]] ?? []).flatMap {
            ($0["portal"] as? [String: Any])?["sites"] as? [String] ?? []
        }
        #expect(sites.contains { $0.hasPrefix(hostileSite + "-") }, "\(target): the JSON keeps the site name exactly")

        let auditJSON = try cli(["audit", "--config", config.path, "--now", testNowText, "--format", "json"])
        let findings = try #require(try json(auditJSON.stdout)["findings"] as? [[String: String]])
        let subjects = Set(findings.map { $0["subject"]! })
        for file in hostileFiles { #expect(subjects.contains(file), "\(target): \(file.debugDescription) exactly") }
        #expect(subjects.contains(hostileSite))

        let table = try cli(["audit", "--config", config.path, "--now", testNowText])
        #expect(table.status == auditJSON.status)
        #expect(rawControls(table.stdout + table.stderr).isEmpty, "\(target) audit table")
        // A title, a header, and one row per finding: a newline in a name forges no row.
        #expect(table.stdout.split(separator: "\n").count == 2 + findings.count, "\(target)")
        #expect(!table.stdout.contains("\nwarn      FAKE_CODE"))
        #expect(table.stdout.contains("stray\\x1b[2J\\x1b[31mRED.txt"))

        let pairsTable = try cli(["pairs", "--config", config.path, "--now", testNowText])
        #expect(rawControls(pairsTable.stdout + pairsTable.stderr).isEmpty, "\(target) pairs table")
        #expect(pairsTable.stdout.contains("evil\\u{0085}nel\\u{009B}2J\\u{2028}ls\\u{2029}ps\\u{202E}rlo"))

        // The plan an operator applies: every document is one the tool meant, and the site file names come back
        // exactly from a YAML 1.1 parser (libyaml, as PyYAML and go-yaml).
        let plan = try cli(["restore-plan", "--config", config.path, "--now", testNowText])
        #expect(plan.status == 0, "\(target): \(plan.stderr)")
        #expect(rawControls(plan.stdout).isEmpty, "\(target) restore plan")
        let documents = try Yams.load_all(yaml: plan.stdout).map { $0 as? [String: Any] }
        #expect(documents.count == 5, "\(target): the ManagementRestore, the system and three sites")
        let kinds = documents.map { $0?["kind"] as? String }
        #expect(kinds == ["ManagementRestore"] + Array(repeating: "PortalRestore", count: 4), "\(target)")
        let siteNames = documents.compactMap { ($0?["spec"] as? [String: Any])?["siteName"] as? String }
        #expect(siteNames.contains { $0.hasPrefix(hostileSite + "-") }, "\(target): the plan keeps the site exactly")

        for format in ["markdown", "html", "json"] {
            let output = dir.path("report.\(format)")
            let r = try cli([
                "report", "--config", config.path, "--now", testNowText, "--format", format, "--output", output,
            ])
            #expect(r.status == 0, "\(target) \(format): \(r.stderr)")
            let text = try String(contentsOfFile: output, encoding: .utf8)
            if format == "json" {
                let subjects = (try json(text)["findings"] as? [[String: Any]] ?? []).map { $0["subject"] as? String }
                #expect(subjects.contains(hostileFiles[0]), "\(target) report JSON keeps names exactly")
            } else {
                #expect(rawControls(text).isEmpty, "\(target) \(format) report")
            }
        }
    }

    @Test func hostileNamesOnALocalTarget() throws {
        let (dir, config) = try sample()
        try checkOutputs(config, dir: dir, target: "local")
    }

    @Test func hostileNamesOverSFTP() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let (dir, config) = try sample()
        try FileManager.default.removeItem(at: tree.url)
        try FileManager.default.copyItem(at: dir.url.appendingPathComponent("storage"), to: tree.url)
        try secretYAML("portal-backup-secret", username: server.user, password: server.password).write(
            toFile: dir.path("portal-backup-secret.yaml"), atomically: true, encoding: .utf8)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "    protocol: local\n    path: ./storage/portal",
            with: "    protocol: sftp\n    host: 127.0.0.1\n    port: \"\(server.port)\"\n    path: \(tree.path)/portal"
        )
        text = text.replacingOccurrences(
            of: "  secret: ./portal-backup-secret.yaml",
            with: "  secret: ./portal-backup-secret.yaml\n  knownHosts: \(server.knownHosts)")
        try text.write(to: config, atomically: true, encoding: .utf8)
        try checkOutputs(config, dir: dir, target: "sftp")
    }

    @Test func hostileNamesInS3() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let (dir, config) = try sample()
        let portal = dir.url.appendingPathComponent("storage/portal")
        var uploads: [(key: String, body: Data)] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: portal.path) {
            uploads.append(("portal/" + name, try Data(contentsOf: portal.appendingPathComponent(name))))
        }
        try server.put(bucket: bucket, uploads)
        try secretYAML("portal-backup-secret", username: server.accessKey, password: server.secretKey).write(
            toFile: dir.path("portal-backup-secret.yaml"), atomically: true, encoding: .utf8)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "    protocol: local\n    path: ./storage/portal",
            with: "    protocol: objstore\n    path: \(bucket)/portal")
        text = text.replacingOccurrences(
            of: "  secret: ./portal-backup-secret.yaml",
            with: "  secret: ./portal-backup-secret.yaml\n  endpoint: \(server.endpoint)")
        try text.write(to: config, atomically: true, encoding: .utf8)
        try checkOutputs(config, dir: dir, target: "s3")
    }

    @Test func errorLinesAndLogsAreEscaped() throws {
        let dir = try TempDir()
        let r = try cli(["pairs", "--config", dir.path("no\u{1B}[2Jsuch\u{2028}file.yaml")])
        #expect(r.status == 3)
        #expect(oneLine(r.stderr) && rawControls(r.stderr).isEmpty)
        #expect(r.stderr.contains("no\\x1b[2Jsuch\\u{2028}file.yaml"))
        let bad = try cli(["pairs", "--config", dir.path("x.yaml"), "--tolerance", "1\u{1B}[2Jd"])
        #expect(bad.status == 3 && rawControls(bad.stderr).isEmpty)
    }
}

@Suite(.serialized)
struct HostileDocumentTests {
    func scanned(name: String = #function) throws -> (TempDir, URL) {
        let dir = try TempDir(name)
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        let scan = try cli(["scan", "--config", config.path])
        #expect(scan.status == 0, "\(scan.stderr)")
        return (dir, config)
    }

    /// Nine anchors of ten aliases each: 10^9 nodes from 510 bytes.
    static let aliasBomb: String = {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for i in 1...8 {
            lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    func index(_ dir: TempDir) throws -> Data {
        try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite"))
    }

    @Test func anAliasBombConfigIsRefusedAtOnce() throws {
        let (dir, config) = try scanned()
        let before = try index(dir)
        try (try String(contentsOf: config, encoding: .utf8) + Self.aliasBomb).write(
            to: config, atomically: true, encoding: .utf8)
        #expect(Self.aliasBomb.utf8.count < 520)
        let r = try cli(["audit", "--config", config.path])
        #expect(r.status == 3)
        #expect(oneLine(r.stderr))
        #expect(r.stderr.hasPrefix("dr-audit: config \(config.path): aliases repeat more than 10000 nodes"))
        #expect(try index(dir) == before)
    }

    @Test func anAliasBombCRIsRefused() throws {
        let (dir, config) = try scanned()
        let before = try index(dir)
        let cr = dir.path("portal_cr.yaml")
        try
            (try String(contentsOfFile: cr, encoding: .utf8) + "bomb:\n"
            + Self.aliasBomb.split(separator: "\n").map {
                "  " + $0
            }.joined(separator: "\n") + "\n").write(toFile: cr, atomically: true, encoding: .utf8)
        for command in ["scan", "audit"] {
            let r = try cli([command, "--config", config.path])
            #expect(r.status == 3)
            #expect(oneLine(r.stderr) && r.stderr.contains("portal CR \(cr): aliases repeat"), "\(r.stderr)")
        }
        #expect(try index(dir) == before)
    }

    @Test func anAliasBombSecretIsAFinding() throws {
        let (dir, config) = try scanned()
        try ("apiVersion: v1\nkind: Secret\nmetadata: {name: portal-backup-secret}\n" + Self.aliasBomb).write(
            toFile: dir.path("portal-backup-secret.yaml"), atomically: true, encoding: .utf8)
        let r = try cli(["audit", "--config", config.path, "--format", "json"])
        #expect(r.status == 2)
        let findings = try #require(try json(r.stdout)["findings"] as? [[String: String]])
        #expect(
            findings.contains { $0["code"] == "BACKUP_SECRET_INVALID" && $0["message"]!.contains("aliases repeat") })
    }

    /// 100,000 `[` and 100,000 `{"a":` overflowed the stack of the YAML composer (SIGSEGV).
    @Test(arguments: [String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 100_000)])
    func aDeepExportIsAFailedClusterScan(_ text: String) throws {
        let (dir, config) = try scanned()
        let records = try DatabaseQueue(path: dir.path("dr-audit.sqlite")).read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM cluster_records")
        }
        try text.write(toFile: dir.path("portalbackups.json"), atomically: true, encoding: .utf8)
        let r = try cli(["scan", "--config", config.path])
        #expect(r.status == 3)
        #expect(oneLine(r.stderr))
        #expect(
            r.stderr.hasPrefix(
                "dr-audit: cluster scan failed: portal backups export \(dir.path("portalbackups.json")): nested deeper than 100 levels"
            ))
        let after = try DatabaseQueue(path: dir.path("dr-audit.sqlite")).read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM cluster_records")
        }
        #expect(after == records)
        let audit = try cli(["audit", "--config", config.path, "--format", "json"])
        #expect(audit.stdout.contains("CLUSTER_EXPORT_INVALID"))
    }

    /// A CR nested 3,000 levels deep crashed the composer.
    @Test func aDeepCRIsRefused() throws {
        let (dir, config) = try scanned()
        let cr = dir.path("management_cr.yaml")
        let flow = String(repeating: "{a: ", count: 3000) + "x" + String(repeating: "}", count: 3000)
        var block = ""
        for level in 0..<200 { block += String(repeating: "  ", count: level) + "a:\n" }
        for deep in [
            "deep: " + flow + "\n", "deep:\n" + block.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"),
        ] {
            let original = try String(contentsOfFile: cr, encoding: .utf8)
            try (original + deep + "\n").write(toFile: cr, atomically: true, encoding: .utf8)
            let r = try cli(["audit", "--config", config.path])
            #expect(r.status == 3)
            #expect(oneLine(r.stderr) && r.stderr.contains("management CR \(cr): nested deeper than 100 levels"))
            try original.write(toFile: cr, atomically: true, encoding: .utf8)
        }
    }

    @Test func aHugeConfigIsRefusedBeforeItIsRead() throws {
        let (dir, config) = try scanned()
        let handle = try FileHandle(forWritingTo: config)
        handle.seekToEndOfFile()
        handle.write(Data(("# " + String(repeating: "x", count: 1 << 20) + "\n").utf8))
        for _ in 0..<4 { handle.write(Data(("# " + String(repeating: "y", count: 1 << 20) + "\n").utf8)) }
        try handle.close()
        let r = try cli(["pairs", "--config", config.path])
        #expect(r.status == 3)
        #expect(r.stderr == "dr-audit: config \(config.path): larger than 4 MiB, the limit for this file\n")
        _ = dir
    }

    @Test func hugeDurationsAreOneLineErrors() throws {
        let (dir, config) = try scanned()
        let r = try cli(["pairs", "--config", config.path, "--tolerance", "99999999999999999999d"])
        #expect(r.status == 3)
        #expect(
            r.stderr
                == "dr-audit: --tolerance '99999999999999999999d' is longer than 100 years, the longest duration dr-audit takes\n"
        )
        let text = try String(contentsOf: config, encoding: .utf8)
        for (from, to, message) in [
            ("rpo: 26h", "rpo: 99999999999999999999d", "pairing.rpo: '99999999999999999999d' is longer than 100 years"),
            (
                "  secret: ./mgmt-backup-secret.yaml", "  secret: ./mgmt-backup-secret.yaml\n  timeout: 30d",
                "management.timeout: '30d' is longer than 1d"
            ),
        ] {
            try text.replacingOccurrences(of: from, with: to).write(to: config, atomically: true, encoding: .utf8)
            let r = try cli(["audit", "--config", config.path])
            #expect(r.status == 3)
            #expect(r.stderr.hasPrefix("dr-audit: dr-audit.yaml: \(message)"), "\(r.stderr)")
        }
        _ = dir
    }

    /// 100,000 backup CRs in one export: read an item at a time, the scan stays under 100 MB.
    @Test func aLargeExportIsStreamed() throws {
        let (dir, config) = try scanned()
        var export = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
        for i in 0..<100_000 {
            export += """
                {"apiVersion": "portal.apiconnect.ibm.com/v1beta1", "kind": "PortalBackup", "metadata": {"name": \
                "portal-record-\(i)", "namespace": "apic"}, "spec": {"type": "site", "crType": "record"}, "status": \
                {"phase": "Ready", "fullBackupName": "portal.example.com@org\(i)@cat-20261101.010000.tar.gz"}}\
                \(i < 99_999 ? "," : "")

                """
        }
        export += "]}\n"
        try export.write(toFile: dir.path("portalbackups.json"), atomically: true, encoding: .utf8)
        export = ""
        let (kib, status) = try peakRSS(["scan", "--config", config.path])
        #expect(status == 0)
        #expect(kib < 100 * 1024, "peak RSS \(kib / 1024) MB")
        let count = try DatabaseQueue(path: dir.path("dr-audit.sqlite")).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM cluster_records WHERE gone_scan IS NULL")
        }
        #expect(count == 100_000 + 22)
    }
}

@Suite(.serialized)
struct OutputAndIndexTests {
    /// A storage path of 8 KB (a folder tree nested to the limit) once padded every row of a 100,000-row audit to
    /// its width: 822 MB of output and 3.3 GB of memory.
    @Test func oneVeryLongCellDoesNotWidenEveryOtherRow() {
        let long = String(repeating: "deep/", count: 1600) + "x.tar.gz"
        let rows = [["CODE", "SUBJECT", "MESSAGE"], ["A", long, "one"]] + (0..<1000).map { ["B", "s\($0)", "m"] }
        let lines = Render.table(rows).split(separator: "\n")
        #expect(lines.count == 1002)
        #expect(lines[1].hasSuffix(long + "  one"))
        #expect(lines.dropFirst(2).allSatisfy { $0.count == 4 + 2 + Render.widestPadding + 2 + 1 })
        #expect(lines[0].hasPrefix("CODE  SUBJECT"))
    }
    func scanned(name: String = #function) throws -> (TempDir, URL) {
        let dir = try TempDir(name)
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        #expect(try cli(["scan", "--config", config.path]).status == 0)
        return (dir, config)
    }

    /// `restore-plan > /dev/full` exited 0 with nothing written.
    @Test func aFullDiskOnStandardOutputIsAnError() throws {
        let (dir, config) = try scanned()
        for args in [
            ["restore-plan"], ["pairs", "--format", "json"], ["pairs"], ["audit", "--format", "json"], ["--help"],
        ] {
            let r = try cli(args + (args == ["--help"] ? [] : ["--config", config.path]), stdout: "/dev/full")
            #expect(r.status == 3, "\(args)")
            #expect(r.stderr == "dr-audit: cannot write to standard output: No space left on device\n", "\(args)")
        }
        _ = dir
    }

    @Test func reportsAndMetricsOntoAFullDiskOrADevice() throws {
        let (dir, config) = try scanned()
        // A node of its own for /dev/full's device (1, 7): should the device ever be replaced, it is this one.
        let full = dir.path("full")
        #expect(mknod(full, S_IFCHR | 0o666, dev_t(1 << 8 | 7)) == 0)
        let r = try cli(["report", "--config", config.path, "--format", "json", "--output", full])
        #expect(r.status == 3)
        #expect(r.stderr == "dr-audit: cannot write \(full): the disk is full\n")
        // Written to, never replaced: as root, a rename would put a file where the device was.
        var info = stat()
        #expect(stat(full, &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        // A link to a file is followed, and the file replaced atomically.
        try "old".write(toFile: dir.path("real.prom"), atomically: true, encoding: .utf8)
        #expect(symlink("real.prom", dir.path("link.prom")) == 0)
        #expect(try cli(["metrics", "--config", config.path, "--output", dir.path("link.prom")]).status == 0)
        #expect(try String(contentsOfFile: dir.path("real.prom"), encoding: .utf8).contains("dr_audit_audit_status"))
        #expect(lstat(dir.path("link.prom"), &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
    }

    /// `database:` pointing at another application's SQLite file: it was migrated without a word.
    @Test func anotherApplicationsDatabaseIsRefusedAndLeftAlone() throws {
        let (dir, config) = try scanned()
        let other = dir.path("other.sqlite")
        try DatabaseQueue(path: other).write { db in
            try db.execute(
                sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes VALUES (1, 'x')")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: other))
        try (try String(contentsOf: config, encoding: .utf8)).replacingOccurrences(
            of: "database: ./dr-audit.sqlite", with: "database: ./other.sqlite"
        ).write(to: config, atomically: true, encoding: .utf8)
        for command in ["scan", "pairs"] {
            let r = try cli([command, "--config", config.path])
            #expect(r.status == 3)
            #expect(
                r.stderr
                    == "dr-audit: index \(other) is not a dr-audit index (it holds another application's tables, e.g. notes); point database: at a new file\n"
            )
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)) == before)
        // One with another application_id, whatever its tables.
        try DatabaseQueue(path: other).write { db in try db.execute(sql: "PRAGMA application_id = 1234") }
        let r = try cli(["pairs", "--config", config.path])
        #expect(r.stderr.contains("is not a dr-audit index (SQLite application_id 0x000004D2)"))
    }

    @Test func aNewIndexSaysWhatItIs() throws {
        let (dir, config) = try scanned()
        let index = try DatabaseQueue(path: dir.path("dr-audit.sqlite"))
        #expect(try index.read { try Int32.fetchOne($0, sql: "PRAGMA application_id") } == Index.applicationID)
        // An index from before application_id (same tables, id 0) is still dr-audit's.
        try index.write { db in try db.execute(sql: "PRAGMA application_id = 0") }
        let r = try cli(["pairs", "--config", config.path])
        #expect(r.status == 0, "\(r.stderr)")
        // An empty file is a new index.
        FileManager.default.createFile(atPath: dir.path("empty.sqlite"), contents: Data())
        let fresh = try Index(path: dir.path("empty.sqlite"))
        #expect(try fresh.appliedMigrations().count == embeddedMigrations.count)
    }

    /// A writable index in a read-only folder: SQLite cannot write its journal there. Name the folder.
    @Test func aReadOnlyFolderIsNamed() throws {
        let (dir, config) = try scanned()
        let fm = FileManager.default
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.url.path)
        for name in try fm.contentsOfDirectory(atPath: dir.url.path) where !name.hasPrefix("storage") {
            try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir.path(name))
        }
        try fm.setAttributes([.posixPermissions: 0o666], ofItemAtPath: dir.path("dr-audit.sqlite"))
        try fm.copyItem(atPath: binaryURL().path, toPath: dir.path("dr-audit-copy"))
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path("dr-audit-copy"))
        func asNobody(_ args: [String]) throws -> CLIResult {
            try cli(["-u", "nobody", "--", dir.path("dr-audit-copy")] + args, executable: "/usr/sbin/runuser")
        }
        let scan = try asNobody(["scan", "--config", config.path])
        #expect(scan.status == 3)
        #expect(
            scan.stderr
                == "dr-audit: index \(dir.path("dr-audit.sqlite")): its folder \(dir.url.path) is read-only; dr-audit needs to write there (SQLite keeps its journal beside the index)\n"
        )
        let report = try asNobody(["report", "--config", config.path, "--output", dir.path("r.md")])
        #expect(report.status == 3)
        #expect(
            report.stderr == "dr-audit: cannot write \(dir.path("r.md")): the folder \(dir.url.path) is not writable\n")
        // No index yet: it cannot be created there.
        try fm.removeItem(atPath: dir.path("dr-audit.sqlite"))
        let first = try asNobody(["scan", "--config", config.path])
        #expect(first.status == 3)
        #expect(
            first.stderr
                == "dr-audit: index \(dir.path("dr-audit.sqlite")) cannot be created: its folder \(dir.url.path) is not writable by this user\n"
        )
    }
}
