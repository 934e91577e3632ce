import DRAuditCore
import Foundation

@testable import DRAudit

/// The loopback servers started by scripts/test-servers.sh (make test does it). A test that needs one
/// fails when it is missing: it never skips.
enum TestServers {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func env() throws -> [String: String] {
        let file = repoRoot.appendingPathComponent(".test-servers/env")
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw DRAuditError(
                "test servers are not running (\(file.path) is missing): run scripts/test-servers.sh start, or make test"
            )
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    static func value(_ key: String) throws -> String {
        guard let v = try env()[key] else {
            throw DRAuditError("test servers: \(key) missing from .test-servers/env; restart them")
        }
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
        let server = SSHServer(
            port: Int(try TestServers.value("DRTEST_SSH_PORT"))!, user: try TestServers.value("DRTEST_SSH_USER"),
            password: try TestServers.value("DRTEST_SSH_PASSWORD"), home: try TestServers.value("DRTEST_SSH_HOME"),
            dir: try TestServers.value("DRTEST_SSH_DIR"), fingerprint: try TestServers.value("DRTEST_SSH_FINGERPRINT"))
        // The env file may be stale: make sure something listens.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            throw DRAuditError(
                "test sshd is not listening on 127.0.0.1:\(server.port): run scripts/test-servers.sh start")
        }
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
        try FileManager.default.createDirectory(
            at: url, withIntermediateDirectories: true,
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

/// The test SeaweedFS S3.
struct S3Server {
    let endpoint: String
    let httpsEndpoint: String
    let caBundle: String
    let accessKey: String
    let secretKey: String
    let limitedAccessKey: String
    let limitedSecretKey: String

    static func running() throws -> S3Server {
        let server = S3Server(
            endpoint: try TestServers.value("DRTEST_S3_ENDPOINT"),
            httpsEndpoint: try TestServers.value("DRTEST_S3_HTTPS_ENDPOINT"),
            caBundle: try TestServers.value("DRTEST_S3_CA"), accessKey: try TestServers.value("DRTEST_S3_ACCESS_KEY"),
            secretKey: try TestServers.value("DRTEST_S3_SECRET_KEY"),
            limitedAccessKey: try TestServers.value("DRTEST_S3_LIMITED_ACCESS_KEY"),
            limitedSecretKey: try TestServers.value("DRTEST_S3_LIMITED_SECRET_KEY"))
        let client = try CurlClient(
            timeout: 5, caBundle: nil,
            sigv4: .init(region: "us-east-1", accessKey: server.accessKey, secretKey: server.secretKey))
        let r = try? client.request("GET", server.endpoint + "/")
        guard r?.status == 200 else {
            throw DRAuditError("test S3 is not answering at \(server.endpoint): run scripts/test-servers.sh start")
        }
        return server
    }

    var credentials: BackupCredentials { BackupCredentials(username: accessKey, password: secretKey) }

    /// A new, empty bucket with a unique name.
    func bucket(_ name: String = #function) throws -> String {
        let clean = name.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(30)
        let bucket = "t-\(clean)-\(UUID().uuidString.prefix(8).lowercased())"
        let r = try writer().request("PUT", "\(endpoint)/\(bucket)", body: Data())
        guard r.status == 200 else { throw DRAuditError("creating bucket \(bucket): HTTP \(r.status)") }
        return bucket
    }

    func writer() throws -> CurlClient {
        try CurlClient(
            timeout: 10, caBundle: nil, sigv4: .init(region: "us-east-1", accessKey: accessKey, secretKey: secretKey))
    }

    /// Uploads objects over 8 kept-alive connections at once.
    func put(bucket: String, _ objects: [(key: String, body: Data)]) throws {
        final class Failures: @unchecked Sendable {
            let lock = NSLock()
            var errors: [String] = []
            func add(_ e: String) {
                lock.lock()
                errors.append(e)
                lock.unlock()
            }
        }
        let failures = Failures()
        let lanes = 8
        let endpoint = endpoint
        let access = accessKey
        let secret = secretKey
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in
            do {
                let client = try CurlClient(
                    timeout: 10, caBundle: nil, sigv4: .init(region: "us-east-1", accessKey: access, secretKey: secret))
                for i in stride(from: lane, to: objects.count, by: lanes) {
                    let r = try client.request(
                        "PUT", "\(endpoint)/\(bucket)/\(S3Location.encode(objects[i].key, keepSlash: true))",
                        body: objects[i].body)
                    if r.status != 200 { failures.add("putting \(objects[i].key): HTTP \(r.status)") }
                }
            } catch {
                failures.add("\(error)")
            }
        }
        if let first = failures.errors.first { throw DRAuditError(first) }
    }
}

/// One of the loopback helper servers in scripts/ (fault-proxy.py, fake-kube-api.py), stopped with the value.
final class ScriptServer {
    let process = Process()
    let port: Int
    /// The script exits when this pipe closes: at deinit, or when the test process ends in any way.
    private let lifeline = Pipe()

    convenience init(faultProxyTo upstream: String, _ faults: [String]) throws {
        try self.init(script: "fault-proxy.py", ["--upstream", upstream] + faults)
    }

    init(script: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", TestServers.repoRoot.appendingPathComponent("scripts/" + script).path] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = lifeline
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8), text.hasPrefix("ready "),
            let port = Int(text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw DRAuditError("scripts/\(script) did not start")
        }
        self.port = port
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }
    deinit {
        try? lifeline.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
    }
}
