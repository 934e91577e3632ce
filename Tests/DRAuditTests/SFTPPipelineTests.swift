import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

#if canImport(Glibc)
    import Glibc
#endif

/// The pipelined SFTP listing (several READDIRs in flight, folders at once) against the real sshd.
@Suite(.serialized)
struct SFTPPipelineTests {
    func settings(_ server: SSHServer, path: String, port: Int? = nil) -> SFTPTarget.Settings {
        var s = SFTPTarget.Settings(
            host: "127.0.0.1", port: port ?? server.port, path: path,
            credentials: BackupCredentials(username: server.user, password: server.password))
        if port == nil { s.knownHosts = server.knownHosts } else { s.hostKeyFingerprint = server.fingerprint }
        s.timeout = 10
        return s
    }

    /// Empty files by plain open(2): FileManager's atomic writes make 20,000 files take a minute.
    func files(_ dir: String, _ count: Int, prefix: String = "f") throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 0..<count {
            let fd = open(dir + "/\(prefix)\(String(format: "%05d", i)).tar.gz", O_WRONLY | O_CREAT, 0o644)
            guard fd >= 0 else { throw DRAuditError("cannot create a file in \(dir)") }
            close(fd)
        }
    }

    func listAll(_ target: StorageTarget) throws -> [StorageObject] {
        var objects: [StorageObject] = []
        try target.list { objects.append($0) }
        return objects
    }

    @Test func foldersOfZeroOneNinetyNineHundredHundredAndOneAndTwentyThousandEntriesAreListedWhole() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let sizes = [0, 1, 99, 100, 101, 20_000]
        for n in sizes { try files(tree.path + "/n\(n)", n) }
        try files(tree.path + "/n101/deeper/still", 101)
        for parallel in [1, 8] {
            var s = settings(server, path: tree.path)
            s.parallel = parallel
            let objects = try listAll(SFTPTarget(s))
            for n in sizes {
                let inFolder = objects.filter { $0.key.hasPrefix("n\(n)/f") }
                #expect(inFolder.count == n, "folder of \(n), parallel \(parallel)")
                #expect(Set(inFolder.map(\.key)).count == n)
            }
            #expect(objects.filter { $0.key.hasPrefix("n101/deeper/still/") }.count == 101)
            #expect(objects.count == sizes.reduce(0, +) + 101)
        }
    }

    @Test func namesWithEveryByteTheServerAllowsAreIndexedAsTheLocalListingIndexesThem() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        var names: [[UInt8]] = []
        for byte in UInt8(1)...UInt8(255) where byte != UInt8(ascii: "/") {
            names.append([UInt8(ascii: "n"), byte])
            names.append([byte, UInt8(ascii: "."), byte])
        }
        names.append(HostileNames.notUTF8)
        names.append(Array(HostileNames.literalEscape.utf8))
        for name in names { try createRawFile(tree.path, name) }
        let overSFTP = try listAll(SFTPTarget(settings(server, path: tree.path))).map(\.key)
        let local = try listAll(LocalTarget(root: tree.url)).map(\.key)
        #expect(overSFTP.count == names.count)
        #expect(Set(overSFTP).count == names.count)
        #expect(overSFTP.sorted(by: KeyOrder.less) == local.sorted(by: KeyOrder.less))
        #expect(Set(overSFTP.map(RawName.bytes)) == Set(names))
        #expect(overSFTP.contains(HostileNames.notUTF8Key) && overSFTP.contains(HostileNames.literalEscapeKey))
        // Read back by key, bad bytes and all.
        let target = SFTPTarget(settings(server, path: tree.path))
        #expect(try target.read(HostileNames.notUTF8Key, limit: 10) == Data("x".utf8))
    }

    @Test func manyMetadataFilesAreReadAtOnceOverOneConnection() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        var keys: [String] = []
        for i in 0..<200 {
            let key = "mgmt/base/20260101T\(String(format: "%06d", i))/backup.info"
            try tree.write(key, "status=DONE\nbackup_id=\(i)\n" + String(repeating: "x", count: i * 700))
            keys.append(key)
        }
        var read: [String: Data] = [:]
        try SFTPTarget(settings(server, path: tree.path)).read(keys, limit: 1 << 20) { read[$0] = $1 }
        #expect(read.count == 200)
        for (i, key) in keys.enumerated() {
            #expect(
                read[key].map { String(decoding: $0, as: UTF8.self).hasPrefix("status=DONE\nbackup_id=\(i)\n") } == true
            )
            #expect(read[key]?.count == "status=DONE\nbackup_id=\(i)\n".utf8.count + i * 700)
        }
        let error = try #require(throws: DRAuditError.self) {
            try SFTPTarget(settings(server, path: tree.path)).read(keys, limit: 1000) { _, _ in }
        }
        #expect(error.message.contains("is larger than 1000 bytes"))
    }

    @Test func aServerThatDropsTheConnectionMidQueueFailsTheScanAndLeavesTheIndex() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        for folder in 0..<8 { try files(tree.path + "/d\(folder)", 600) }
        let own = try PrivateSSHD(config: server.dir + "/sshd_config")
        defer { own.stop() }
        let dir = try TempDir()
        let index = try Index(path: dir.path("i.sqlite"))
        let scanner = DRAudit.Scanner(index: index, logger: Workspace.quietLogger)
        let s = settings(server, path: tree.path, port: own.port)
        #expect(try scanner.scan(role: .portal, target: SFTPTarget(s)).counts?.seen == 4800)
        let before: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")
        let report = try scanner.scan(role: .portal, target: KillAfter(objects: 1500, sshd: own, inner: SFTPTarget(s)))
        #expect(report.error?.code == "TARGET_UNREACHABLE")
        #expect(report.error?.message.contains("sftp://127.0.0.1:\(own.port)") == true)
        #expect(report.error?.message.contains("\n") == false)
        let after: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")
        #expect(after == before)
    }

    @Test func aServerSendingOneByteASecondCannotKeepTheListingAlive() throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        try files(tree.path + "/many", 3000)
        // Past the handshake and login at full speed; then the answers trickle.
        let proxy = try ScriptServer(
            script: "latency-proxy.py", ["--upstream", "127.0.0.1:\(server.port)", "--trickle-after", "30000"])
        var s = settings(server, path: tree.path, port: proxy.port)
        s.timeout = 2
        let started = Date()
        let error = try #require(throws: DRAuditError.self) { try listAll(SFTPTarget(s)) }
        #expect(error.code == "TARGET_UNREACHABLE")
        // Whole SSH packets reach the SFTP layer, so a trickle shows as silence (timeout) or a late answer.
        #expect(error.message.contains("too slowly") || error.message.contains("timed out"), "\(error.message)")
        #expect(Date().timeIntervalSince(started) < 15)
    }

    /// A private sshd whose `sftp` subsystem is `scripts/hostile-sftp-server.py <mode>`.
    func hostileServer(_ server: SSHServer, mode: String) throws -> (PrivateSSHD, TempDir) {
        let dir = try TempDir()
        let script = TestServers.repoRoot.appendingPathComponent("scripts/hostile-sftp-server.py").path
        let config = try String(contentsOfFile: server.dir + "/sshd_config", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("Subsystem") ? "Subsystem sftp /usr/bin/python3 \(script) \(mode)" : String($0) }
            .joined(separator: "\n")
        try config.write(toFile: dir.path("sshd_config"), atomically: true, encoding: .utf8)
        return (try PrivateSSHD(config: dir.path("sshd_config")), dir)
    }

    @Test func aServerThatRepeatsItsNamesInsteadOfMovingOnFailsTheListing() throws {
        let server = try SSHServer.running()
        let (own, dir) = try hostileServer(server, mode: "repeat")
        defer { withExtendedLifetime(dir) { own.stop() } }
        let started = Date()
        let error = try #require(throws: DRAuditError.self) {
            try listAll(SFTPTarget(settings(server, path: "/backups", port: own.port)))
        }
        #expect(error.code == "TARGET_UNREACHABLE")
        #expect(error.message.contains("\"a.txt\" twice in /backups: its listing does not move on"), "\(error.message)")
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func aNameNoFileSystemHoldsFailsTheListingInsteadOfWalkingInCircles() throws {
        let server = try SSHServer.running()
        let (own, dir) = try hostileServer(server, mode: "empty-name")
        defer { withExtendedLifetime(dir) { own.stop() } }
        let error = try #require(throws: DRAuditError.self) {
            try listAll(SFTPTarget(settings(server, path: "/backups", port: own.port)))
        }
        #expect(error.code == "TARGET_UNREACHABLE")
        #expect(error.message.contains("the name \"\" in /backups, which no file system holds"), "\(error.message)")
    }

    /// A trickle from the first byte (banner), from around the channel opening and from around authentication:
    /// libssh2's per-packet timeout alone let the last of these run for 339 s with a 2 s timeout.
    @Test(arguments: [0, 1500, 1800])
    func aServerSendingOneByteASecondCannotHoldTheLogin(trickleAfter: Int) throws {
        let server = try SSHServer.running()
        let tree = try server.tree()
        let proxy = try ScriptServer(
            script: "latency-proxy.py",
            ["--upstream", "127.0.0.1:\(server.port)", "--trickle-after", "\(trickleAfter)"])
        var s = settings(server, path: tree.path, port: proxy.port)
        s.timeout = 2
        s.connectAttempts = 1
        let started = Date()
        do {
            try listAll(SFTPTarget(s))
        } catch let error as DRAuditError {
            #expect(error.code == "TARGET_UNREACHABLE")
            #expect(error.message.contains("\n") == false)
        }
        // One login of at most 4 × timeout, then at most the listing's own deadline.
        #expect(Date().timeIntervalSince(started) < 18)
    }
}
