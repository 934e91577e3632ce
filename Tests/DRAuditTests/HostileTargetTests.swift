import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

#if canImport(Glibc)
    import Glibc
#endif

/// A file of the given raw name (any bytes but NUL and `/`) in `dir`.
func createRawFile(_ dir: String, _ name: [UInt8], contents: String = "x") throws {
    let dirFD = open(dir, O_RDONLY | O_DIRECTORY)
    defer { close(dirFD) }
    let fd = openat(dirFD, name.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw DRAuditError("cannot create a raw name in \(dir): \(String(cString: strerror(errno)))") }
    _ = contents.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
}

/// The names every hostile-storage test puts on a target, with the keys they must be indexed under.
enum HostileNames {
    static let notUTF8: [UInt8] = Array("stray".utf8) + [0xFF] + Array(".txt".utf8)
    static let notUTF8Key = "stray\\xFF.txt"
    /// Valid UTF-8 that reads like an escape: must not collide with `notUTF8`.
    static let literalEscape = "stray\\xFF.txt"
    static let literalEscapeKey = "stray\\x5CxFF.txt"
}

/// A folder tree with a path far longer than PATH_MAX, built with openat/mkdirat (plain paths cannot reach it).
/// Removed the same way.
final class DeepTree {
    let base: String
    let levels: Int
    let component: [UInt8]

    init(base: String, levels: Int, componentLength: Int = 120) throws {
        self.base = base
        self.levels = levels
        component = Array(repeating: UInt8(ascii: "d"), count: componentLength)
        var fd = open(base, O_RDONLY | O_DIRECTORY)
        for level in 0..<levels {
            let name = component.map { CChar(bitPattern: $0) } + [0]
            guard mkdirat(fd, name, 0o755) == 0 || errno == EEXIST else { throw DRAuditError("mkdirat failed") }
            // A file beside every folder on the way, so climbing back up needs each folder again.
            let file = openat(fd, "f\(level).txt", O_WRONLY | O_CREAT, 0o644)
            close(file)
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        let leaf = openat(fd, "_portal_system_backup-20260101.010000.tar.gz", O_WRONLY | O_CREAT, 0o644)
        _ = write(leaf, "deep", 4)
        close(leaf)
        close(fd)
    }

    var pathLength: Int { base.utf8.count + levels * (component.count + 1) }

    deinit { Self.remove(parent: open(base, O_RDONLY | O_DIRECTORY), name: component, depth: levels) }

    private static func remove(parent: Int32, name: [UInt8], depth: Int) {
        let cname = name.map { CChar(bitPattern: $0) } + [0]
        let fd = openat(parent, cname, O_RDONLY | O_DIRECTORY)
        if fd >= 0, let dir = fdopendir(dup(fd)) {
            var children: [String] = []
            while let entry = readdir(dir) {
                let child = withUnsafePointer(to: entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if child != "." && child != ".." { children.append(child) }
            }
            closedir(dir)
            for child in children where unlinkat(fd, child, 0) != 0 {
                remove(parent: fd, name: Array(child.utf8), depth: depth - 1)
            }
            close(fd)
        }
        unlinkat(parent, cname, AT_REMOVEDIR)
        close(parent)
    }
}

@Suite(.serialized)
struct HostileLocalTargetTests {
    func scan(_ root: String, index: Index, role: Role = .portal) throws -> DRAudit.Scanner.Report {
        try DRAudit.Scanner(index: index, logger: Workspace.quietLogger).scan(
            role: role, target: LocalTarget(root: URL(fileURLWithPath: root)))
    }

    @Test func aNameThatIsNotUTF8IsIndexedAsUnrecognizedAndFoundAgainByARescan() throws {
        let dir = try TempDir()
        let root = dir.path("storage")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try createRawFile(root, HostileNames.notUTF8)
        try createRawFile(root, Array(HostileNames.literalEscape.utf8))
        try createRawFile(root, Array("_portal_system_backup-20260101.010000.tar.gz".utf8))
        let index = try Index(path: dir.path("i.sqlite"))
        let first = try scan(root, index: index)
        #expect(first.error == nil, "\(first.error?.message ?? "")")
        #expect(first.counts?.seen == 3)
        let rows: [String] = try index.query("SELECT key || ' ' || kind FROM objects ORDER BY key")
        #expect(
            rows
                == [
                    "\(HostileNames.literalEscapeKey) unrecognized", "\(HostileNames.notUTF8Key) unrecognized",
                    "_portal_system_backup-20260101.010000.tar.gz portal-system",
                ].sorted())
        let again = try scan(root, index: index)
        #expect(again.counts?.added == 0 && again.counts?.gone == 0)
    }

    @Test func linksFIFOsSocketsAndDanglingLinksAreIndexedAsWhatTheyAreAndNeverFollowed() throws {
        let dir = try TempDir()
        let root = dir.path("storage")
        try FileManager.default.createDirectory(atPath: root + "/real", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/real/_portal_system_backup-20260101.010000.tar.gz"))
        try FileManager.default.createSymbolicLink(atPath: root + "/loop", withDestinationPath: root + "/real")
        try FileManager.default.createSymbolicLink(
            atPath: root + "/_portal_system_backup-20260102.010000.tar.gz",
            withDestinationPath: root + "/real/_portal_system_backup-20260101.010000.tar.gz")
        try FileManager.default.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: root + "/nothing")
        #expect(mkfifo(root + "/backup.info", 0o644) == 0)
        let socketFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketFD) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // sun_path holds 108 bytes: bind at a short path, then move the socket into the tree.
        let socketPath = "/tmp/dr-audit-\(UUID().uuidString.prefix(8)).sock"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(rename(socketPath, root + "/control.sock") == 0)

        let index = try Index(path: dir.path("i.sqlite"))
        let report = try scan(root, index: index)
        #expect(report.error == nil, "\(report.error?.message ?? "")")
        let rows: [String] = try index.query(
            "SELECT key || ' ' || kind || ' ' || ifnull(special, '-') FROM objects ORDER BY key")
        #expect(
            rows == [
                "_portal_system_backup-20260102.010000.tar.gz unrecognized symlink",
                "backup.info unrecognized fifo",
                "control.sock unrecognized socket",
                "dangling unrecognized dangling-symlink",
                "loop unrecognized symlink",
                "real/_portal_system_backup-20260101.010000.tar.gz portal-system -",
            ])
        let workspaceFindings = Audit.assess(
            {
                var input = AuditInput(now: Date(), policy: PairingPolicy())
                input.unrecognized = try! index.attentionObjects(source: "portal").unrecognized.map {
                    UnrecognizedObject(role: .portal, key: $0.key, size: $0.size, special: $0.special)
                }
                return input
            }()
        ).findings.filter { $0.code == "UNRECOGNIZED_OBJECT" }
        #expect(workspaceFindings.count == 5)
        #expect(workspaceFindings.contains { $0.message.contains("backup.info, which is a FIFO") })
        #expect(workspaceFindings.contains { $0.message.contains("dangling, which is a dangling symbolic link") })
        // A FIFO is never opened for reading (it would block the scan).
        let error = try #require(throws: DRAuditError.self) {
            try LocalTarget(root: URL(fileURLWithPath: root)).read("backup.info", limit: 100)
        }
        #expect(error.message.contains("not a regular file"))
    }

    @Test func aTreeDeeperThanPathMaxIsWalked() throws {
        let dir = try TempDir()
        let root = dir.path("storage")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let tree = try DeepTree(base: root, levels: 70)
        #expect(tree.pathLength > 2 * Int(PATH_MAX))
        var keys: [String] = []
        try LocalTarget(root: URL(fileURLWithPath: root)).list { keys.append($0.key) }
        #expect(keys.count == 71)
        let deepest = try #require(keys.first { $0.hasSuffix("_portal_system_backup-20260101.010000.tar.gz") })
        #expect(deepest.utf8.count > Int(PATH_MAX))
        #expect(Set(keys.map { $0.split(separator: "/").last! }).count == 71)
        let data = try LocalTarget(root: URL(fileURLWithPath: root)).read(deepest, limit: 100)
        #expect(String(decoding: data, as: UTF8.self) == "deep")
        let index = try Index(path: dir.path("i.sqlite"))
        #expect(try scan(root, index: index).counts?.seen == 71)
    }
}

@Suite(.serialized)
struct SlowKubernetesAPITests {
    @Test func aKubernetesAPIServerSendingOneByteASecondCannotKeepTheReadAlive() throws {
        let s3 = try S3Server.running()  // its test CA signs the fake API server's certificate
        let dir = try TempDir()
        try Data(#"{"portalbackups": [], "managementbackups": []}"#.utf8).write(
            to: dir.url.appendingPathComponent("f.json"))
        let certDir = URL(fileURLWithPath: s3.caBundle).deletingLastPathComponent()
        let token = "kube-token-\(UUID().uuidString)"
        let api = try ScriptServer(
            script: "fake-kube-api.py",
            [
                "--cert", certDir.appendingPathComponent("server.crt").path, "--key",
                certDir.appendingPathComponent("server.key").path, "--token", token, "--fixture", dir.path("f.json"),
                "--trickle",
            ])
        var endpoint = KubeEndpoint(server: "https://127.0.0.1:\(api.port)")
        endpoint.caPEM = try Data(contentsOf: URL(fileURLWithPath: s3.caBundle))
        endpoint.token = token
        let started = Date()
        let error = try #require(throws: DRAuditError.self) {
            try KubeClient(endpoint: endpoint, namespace: "apic", timeout: 2).backupRecords()
        }
        #expect(error.code == "CLUSTER_UNREACHABLE")
        #expect(error.message.contains("too slow"), "\(error.message)")
        #expect(!error.message.contains(token))
        #expect(Date().timeIntervalSince(started) < 10)
    }
}

struct ParallelConfigTests {
    func config(_ parallel: String) throws -> Config {
        try Config.parse(
            try Documents.parse(
                "database: ./i.sqlite\nportal:\n  cr: ./cr.yaml\n  parallel: \(parallel)\n", name: "dr-audit.yaml"),
            file: URL(fileURLWithPath: "/etc/dr-audit/dr-audit.yaml"))
    }

    @Test func parallelIsAWholeNumberFromOneToSixtyFourPerTarget() throws {
        #expect(try config("16").portal?.parallel == 16)
        #expect(try config("1").portal?.parallel == 1)
        for bad in ["0", "65", "eight", "2.5", "-3"] {
            let error = try #require(throws: DRAuditError.self) { try config(bad) }
            #expect(error.message == "dr-audit.yaml: portal.parallel: '\(bad)' is not a whole number from 1 to 64")
        }
        #expect(
            S3Target.Settings(
                location: try S3Location.from(
                    host: "h/r", path: "b1", provider: nil, uriStyle: nil, endpointOverride: nil),
                credentials: BackupCredentials(username: "a", password: "b")
            ).parallel == 8)
    }
}
