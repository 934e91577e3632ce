import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// Against the real OpenSSH sshd started by scripts/test-servers.sh.
@Suite(.serialized)
struct SFTPTests {
    func settings(_ server: SSHServer, path: String, password: String? = nil) -> SFTPTarget.Settings {
        var s = SFTPTarget.Settings(
            host: "127.0.0.1", port: server.port, path: path,
            credentials: BackupCredentials(username: server.user, password: password ?? server.password))
        s.knownHosts = server.knownHosts
        s.timeout = 10
        return s
    }

    func listAll(_ target: StorageTarget) throws -> [StorageObject] {
        var objects: [StorageObject] = []
        try target.list { objects.append($0) }
        return objects
    }

    @Test func passwordAuthListsNestedFoldersWithSizesAndTimes() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        try tree.write("_portal_system_backup-20260101.010000.tar.gz", "system")
        try tree.write("2026/01/portal-web.think.org@e1@enterprise-20260101.010030.tar.gz", "site data")
        try tree.write("2026/empty-dir-sibling.txt", "")
        try FileManager.default.createDirectory(atPath: tree.path + "/empty", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tree.path + "/link", withDestinationPath: "/etc")
        let mtime = Date(timeIntervalSince1970: 1_767_229_200)
        try FileManager.default.setAttributes(
            [.modificationDate: mtime], ofItemAtPath: tree.path + "/_portal_system_backup-20260101.010000.tar.gz")

        let objects = try listAll(SFTPTarget(settings(server, path: tree.path)))
        // Folders are listed at once, so in no set order. The empty folder adds nothing; the link is indexed as
        // what it is, not followed.
        let expected = [
            "2026/01/portal-web.think.org@e1@enterprise-20260101.010030.tar.gz", "2026/empty-dir-sibling.txt",
            "_portal_system_backup-20260101.010000.tar.gz", "link",
        ]
        #expect(objects.map(\.key).sorted() == expected)
        #expect(objects.first { $0.key == "link" }?.special == .symlink)
        #expect(objects.first { $0.key.hasPrefix("_portal") }?.size == 6)
        #expect(objects.first { $0.key.hasPrefix("_portal") }?.mtime == mtime)
        #expect(objects.first { $0.key.hasSuffix("sibling.txt") }?.size == 0)
    }

    @Test func keyAuthAndHashedKnownHosts() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        try tree.write("a.txt", "a")
        var s = settings(server, path: tree.path)
        s.credentials = BackupCredentials(
            username: server.user, password: nil,
            privateKey: try String(contentsOfFile: server.clientKey, encoding: .utf8))
        s.knownHosts = server.hashedKnownHosts
        #expect(try listAll(SFTPTarget(s)).map(\.key) == ["a.txt"])
    }

    @Test func pinnedFingerprint() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        try tree.write("a.txt", "a")
        var s = settings(server, path: tree.path)
        s.knownHosts = "/nonexistent/known_hosts"
        s.hostKeyFingerprint = server.fingerprint
        #expect(try listAll(SFTPTarget(s)).count == 1)
        s.hostKeyFingerprint = "SHA256:" + String(repeating: "A", count: 43)
        let error = try #require(throws: DRAuditError.self) { try listAll(SFTPTarget(s)) }
        #expect(error.code == "TARGET_UNTRUSTED")
        #expect(error.message.contains(server.fingerprint))
    }

    @Test func wrongPasswordIsAnAuthFailureWithoutTheSecret() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let wrong = "Wrong-\(UUID().uuidString)"
        let error = try #require(throws: DRAuditError.self) {
            try listAll(SFTPTarget(settings(server, path: tree.path, password: wrong)))
        }
        #expect(error.code == "TARGET_AUTH_FAILED")
        #expect(!error.message.contains(wrong))
    }

    @Test func unknownHostKeyIsRefusedBeforeAuthenticating() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let dir = try TempDir()
        // known_hosts that knows the host on the default port only: [127.0.0.1]:port is unknown (OpenSSH's rule).
        let line = try String(contentsOfFile: server.knownHosts, encoding: .utf8).replacingOccurrences(
            of: "[127.0.0.1]:\(server.port)", with: "127.0.0.1")
        try line.write(toFile: dir.path("known_hosts"), atomically: true, encoding: .utf8)
        var s = settings(server, path: tree.path)
        s.knownHosts = dir.path("known_hosts")
        let error = try #require(throws: DRAuditError.self) { try listAll(SFTPTarget(s)) }
        #expect(error.code == "TARGET_UNTRUSTED")
        #expect(error.message.contains("is not in"))
        #expect(error.message.contains(server.fingerprint))

        s.knownHosts = dir.path("missing_known_hosts")
        let missing = try #require(throws: DRAuditError.self) { try listAll(SFTPTarget(s)) }
        #expect(missing.code == "TARGET_UNTRUSTED")
    }

    @Test func changedHostKeyIsRefused() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let dir = try TempDir()
        let keygen = Process()
        keygen.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        keygen.arguments = ["-q", "-t", "ed25519", "-N", "", "-f", dir.path("other")]
        try keygen.run()
        keygen.waitUntilExit()
        let other = try String(contentsOfFile: dir.path("other.pub"), encoding: .utf8).split(separator: " ").prefix(2)
            .joined(separator: " ")
        try "[127.0.0.1]:\(server.port) \(other)\n".write(
            toFile: dir.path("known_hosts"), atomically: true, encoding: .utf8)
        var s = settings(server, path: tree.path)
        s.knownHosts = dir.path("known_hosts")
        let error = try #require(throws: DRAuditError.self) { try listAll(SFTPTarget(s)) }
        #expect(error.code == "TARGET_UNTRUSTED")
        #expect(error.message.contains("HOST KEY CHANGED"))
    }

    @Test func unreachablePortAndMissingPath() throws {
        let server = try SSHServer.running()
        var s = settings(server, path: "/tmp")
        s.port = 1  // nothing listens on port 1
        s.connectAttempts = 2
        let error = try #require(throws: DRAuditError.self) { try listAll(SFTPTarget(s)) }
        #expect(error.code == "TARGET_UNREACHABLE")
        #expect(error.message.contains("cannot connect"))

        let missing = try #require(throws: DRAuditError.self) {
            try listAll(SFTPTarget(settings(server, path: "/no/such/folder")))
        }
        #expect(missing.code == "TARGET_UNREACHABLE")
        #expect(missing.message.contains("/no/such/folder"))
    }

    @Test func tenThousandFilesInOneFolder() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let start = UTC.date(year: 2026, month: 1, day: 1)!
        for i in 0..<10_000 {
            let name = PortalFileName.format(
                kind: .site, site: "portal.example.com@org\(i % 50)@cat", time: start.addingTimeInterval(Double(i * 60))
            )
            FileManager.default.createFile(atPath: tree.path + "/" + name, contents: Data(repeating: 7, count: i % 100))
        }
        let objects = try listAll(SFTPTarget(settings(server, path: tree.path)))
        #expect(objects.count == 10_000)
        #expect(Set(objects.map(\.key)).count == 10_000)
        #expect(objects.reduce(0) { $0 + $1.size } == (0..<10_000).reduce(0) { $0 + Int64($1 % 100) })
    }

    @Test func scanAManagementRepositoryOverSFTPReadsBackupInfo() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: remoteSampleOptions())
        // Serve the sample's storage over SFTP, and point the config at it.
        try FileManager.default.removeItem(at: tree.url)
        // cp -a keeps the mtimes, which are the WAL segments' archive times.
        let copy = try cli(["-a", dir.url.appendingPathComponent("storage").path, tree.path], executable: "/bin/cp")
        #expect(copy.status == 0, "\(copy.stderr)")
        try sftpSecret(server).write(toFile: dir.path("portal-backup-secret.yaml"), atomically: true, encoding: .utf8)
        try sftpSecret(server, name: "mgmt-backup-secret").write(
            toFile: dir.path("mgmt-backup-secret.yaml"), atomically: true, encoding: .utf8)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "    protocol: local\n    path: ./storage/portal",
            with: "    protocol: sftp\n    host: 127.0.0.1\n    port: \"\(server.port)\"\n    path: \(tree.path)/portal"
        )
        text = text.replacingOccurrences(
            of: "    protocol: local\n    path: ./storage/management",
            with:
                "    protocol: sftp\n    host: 127.0.0.1\n    port: \"\(server.port)\"\n    path: \(tree.path)/management"
        )
        text = text.replacingOccurrences(
            of: "  secret: ./portal-backup-secret.yaml",
            with: "  secret: ./portal-backup-secret.yaml\n  knownHosts: \(server.knownHosts)")
        text = text.replacingOccurrences(
            of: "  secret: ./mgmt-backup-secret.yaml",
            with: "  secret: ./mgmt-backup-secret.yaml\n  hostKeyFingerprint: \(server.fingerprint)")
        try text.write(to: config, atomically: true, encoding: .utf8)

        let scan = try cli(["scan", "--config", config.path])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("portal: sftp://127.0.0.1:\(server.port)\(tree.path)/portal"))
        let pairs = try cli(["pairs", "--config", config.path, "--now", testNowText, "--format", "json"])
        let doc = try json(pairs.stdout)
        #expect((doc["pairs"] as? [Any])?.count == 21)
        // The segments' archive times are the files' mtimes, read from the READDIR answers: the hole at noon on
        // day -16 ends the first window at 11:00 that day.
        let windows = try #require(doc["recoveryWindows"] as? [[String: Any]])
        #expect(windows.map { $0["to"] as? String } == ["2026-02-27T11:00:00Z", "2026-03-15T11:00:00Z"])
        let audit = try cli(["audit", "--config", config.path, "--now", testNowText, "--format", "json"])
        #expect(audit.stdout.contains("MGMT_WAL_GAP"))
        #expect(!(scan.stdout + scan.stderr + pairs.stdout).contains(server.password))
    }

    func sftpSecret(_ server: SSHServer, name: String = "portal-backup-secret") -> String {
        secretYAML(name, username: server.user, password: server.password)
    }

    @Test func serverKilledMidScanLeavesTheIndexAsItWas() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        for i in 0..<3000 {
            FileManager.default.createFile(
                atPath: tree.path + String(format: "/f%05d.txt", i), contents: Data("x".utf8))
        }
        // A private sshd, so killing it does not disturb other tests.
        let own = try PrivateSSHD(config: server.dir + "/sshd_config")
        defer { own.stop() }
        let dir = try TempDir()
        let index = try Index(path: dir.path("i.sqlite"))
        let scanner = Scanner(index: index, logger: Workspace.quietLogger)
        var s = settings(server, path: tree.path)
        s.port = own.port
        s.knownHosts = nil
        s.hostKeyFingerprint = server.fingerprint
        let first = try scanner.scan(role: .portal, target: SFTPTarget(s))
        #expect(first.counts?.seen == 3000)
        let before: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")

        try FileManager.default.removeItem(atPath: tree.path + "/f00000.txt")
        let killing = KillAfter(objects: 500, sshd: own, inner: SFTPTarget(s))
        let report = try scanner.scan(role: .portal, target: killing)
        #expect(report.error?.code == "TARGET_UNREACHABLE")
        #expect(report.error?.message.contains("sftp://127.0.0.1:\(own.port)") == true)
        let after: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")
        #expect(after == before)
        let statuses: [String] = try index.query("SELECT status FROM scans ORDER BY id")
        #expect(statuses == ["ok", "failed"])
    }
}

/// Kills the server (and every connection it serves) once `objects` have been listed.
final class KillAfter: StorageTarget, @unchecked Sendable {
    let objects: Int
    let sshd: PrivateSSHD
    let inner: SFTPTarget
    init(objects: Int, sshd: PrivateSSHD, inner: SFTPTarget) {
        self.objects = objects
        self.sshd = sshd
        self.inner = inner
    }
    var location: String { inner.location }
    func list(_ visit: (StorageObject) throws -> Void) throws {
        var n = 0
        try inner.list { object in
            n += 1
            if n == objects { sshd.killAll() }
            try visit(object)
        }
    }
    func read(_ key: String, limit: Int) throws -> Data { try inner.read(key, limit: limit) }
}

/// An sshd of the test's own, on a free port, with the shared config otherwise.
final class PrivateSSHD {
    let port: Int
    let pidFile: String
    let dir: TempDir

    init(config: String) throws {
        dir = try TempDir()
        port = Self.freePort()
        pidFile = dir.path("sshd.pid")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/sshd")
        p.arguments = ["-f", config, "-o", "Port=\(port)", "-o", "PidFile=\(pidFile)", "-E", dir.path("sshd.log")]
        try p.run()
        p.waitUntilExit()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: pidFile) { usleep(50_000) }
        guard FileManager.default.fileExists(atPath: pidFile) else { throw DRAuditError("private sshd did not start") }
    }

    var pid: Int32 {
        Int32(
            (try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                ?? "") ?? -1
    }

    /// SIGKILL to the listener and all its descendants (the per-connection processes).
    func killAll() {
        let root = pid
        var parent: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let p = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let pp = Int32(fields[1]) { parent[p] = pp }
        }
        func descends(_ p: Int32) -> Bool {
            var cur = p
            for _ in 0..<20 {
                guard let pp = parent[cur] else { return false }
                if pp == root { return true }
                cur = pp
            }
            return false
        }
        for p in parent.keys where p == root || descends(p) { kill(p, SIGKILL) }
    }

    func stop() { killAll() }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
