import DRAudit
import Foundation

/// The loopback servers started by scripts/test-servers.sh (make test does it). A test that needs one
/// fails when it is missing: it never skips.
enum TestServers {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func env() throws -> [String: String] {
        let file = repoRoot.appendingPathComponent(".test-servers/env")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw DRAuditError("test servers are not running (\(file.path) is missing): run scripts/test-servers.sh start, or make test")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    static func value(_ key: String) throws -> String {
        guard let v = try env()[key] else { throw DRAuditError("test servers: \(key) missing from .test-servers/env; restart them") }
        return v
    }
}

/// The test sshd's coordinates.
struct SSHServer {
    let port: Int
    let user: String
    let password: String
    let home: String
    let dir: String
    let fingerprint: String

    static func running() throws -> SSHServer {
        let server = SSHServer(port: Int(try TestServers.value("DRTEST_SSH_PORT"))!, user: try TestServers.value("DRTEST_SSH_USER"),
                               password: try TestServers.value("DRTEST_SSH_PASSWORD"), home: try TestServers.value("DRTEST_SSH_HOME"),
                               dir: try TestServers.value("DRTEST_SSH_DIR"), fingerprint: try TestServers.value("DRTEST_SSH_FINGERPRINT"))
        // The env file may be stale: make sure something listens.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw DRAuditError("test sshd is not listening on 127.0.0.1:\(server.port): run scripts/test-servers.sh start") }
        return server
    }

    var knownHosts: String { dir + "/known_hosts" }
    var hashedKnownHosts: String { dir + "/known_hosts_hashed" }
    var clientKey: String { dir + "/client_key" }

    /// A new folder in the test user's home, readable over SFTP, removed by the returned TempTree.
    func tree(_ name: String = #function) throws -> TempTree {
        try TempTree(base: home + "/dr-audit-tests", name: name)
    }
}

final class TempTree {
    let url: URL
    init(base: String, name: String) throws {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        url = URL(fileURLWithPath: base).appendingPathComponent("\(clean)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    var path: String { url.path }

    func write(_ key: String, _ text: String) throws {
        let file = url.appendingPathComponent(key)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }
}
