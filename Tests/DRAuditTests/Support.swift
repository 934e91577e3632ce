import DRAuditCore
import Foundation
import Yams

@testable import DRAudit

/// A fresh folder under the system temp dir, removed when the test's value goes away.
final class TempDir {
    let url: URL
    init(_ name: String = #function) throws {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "dr-audit-test-\(clean)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }
}

/// The fixed clock of the end-to-end tests.
let testNow = UTC.parseRFC3339("2026-03-15T12:00:00Z")!
let testNowText = "2026-03-15T12:00:00Z"

func sampleOptions() -> SampleEnvironment.Options { SampleEnvironment.Options(now: testNow) }

/// The sample for a remote target, with a WAL segment an hour rather than every 5 minutes: fewer objects to copy.
func remoteSampleOptions() -> SampleEnvironment.Options {
    var options = sampleOptions()
    options.walEvery = 3600
    return options
}

/// The built `dr-audit` binary, next to the test bundle.
func binaryURL() -> URL {
    var dir = Bundle.main.bundleURL
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("dr-audit")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent(".build/debug/dr-audit")
    return fallback
}

struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the real binary, as an operator or a CronJob would.
@discardableResult
func cli(
    _ arguments: [String], cwd: String? = nil, executable: String? = nil, environment: [String: String]? = nil
) throws -> CLIResult {
    let process = Process()
    process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? binaryURL()
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting so a large output cannot block the child.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

func json(_ text: String) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw DRAuditError("not a JSON object: \(text.prefix(200))")
    }
    return object
}

/// The sample's backup CR exports as the Kubernetes API server lists them: List items carry no kind or apiVersion.
func apiBackupLists(_ dir: TempDir) throws -> [String: Any] {
    func items(_ file: String) throws -> [[String: Any]] {
        let list =
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appendingPathComponent(file)))
            as! [String: Any]
        return (list["items"] as! [[String: Any]]).map {
            var item = $0
            item["kind"] = nil
            item["apiVersion"] = nil
            return item
        }
    }
    return ["portalbackups": try items("portalbackups.json"), "managementbackups": try items("managementbackups.json")]
}

/// A backup credential Secret as the operator saves it (`data.username`/`password`, or EDB's `key`/`keysecret`).
func secretYAML(
    _ name: String, username: String, password: String, keys: (user: String, secret: String) = ("username", "password")
) -> String {
    """
    apiVersion: v1
    kind: Secret
    metadata: {name: \(name)}
    data:
      \(keys.user): \(Data(username.utf8).base64EncodedString())
      \(keys.secret): \(Data(password.utf8).base64EncodedString())

    """
}

/// The kind of every document of a restore plan as a YAML 1.1 parser (libyaml, as PyYAML and go-yaml) reads it: a
/// plan holds the restore CRs the tool meant and nothing else, whatever the names in it.
func planKinds(_ plan: String) throws -> [String?] {
    try Yams.load_all(yaml: plan).map { ($0 as? [String: Any])?["kind"] as? String }
}
