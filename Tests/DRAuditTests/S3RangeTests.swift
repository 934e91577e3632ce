import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// Parallel key-range listing and misbehaving S3 servers, against the real SeaweedFS (and
/// scripts/fault-proxy.py in front of it).
@Suite(.serialized)
struct S3RangeTests {
    func target(
        _ server: S3Server, bucket: String, folder: String = "p", endpoint: String? = nil, parallel: Int = 4,
        maxKeys: Int = 100, timeout: TimeInterval = 5, attempts: Int = 5
    ) throws -> S3Target {
        let location = try S3Location.from(
            host: "s3.example.com/us-east-1", path: "\(bucket)/\(folder)", provider: "custom", uriStyle: "path",
            endpointOverride: endpoint ?? server.endpoint)
        var settings = S3Target.Settings(location: location, credentials: server.credentials)
        settings.timeout = timeout
        settings.retry = RetryPolicy(attempts: attempts, base: 0.05, cap: 0.5)
        settings.parallel = parallel
        settings.maxKeys = maxKeys
        return S3Target(settings)
    }

    func keys(_ range: Range<Int>, _ prefix: String = "p/") -> [String] {
        range.map { prefix + String(format: "site%02d.example.com@o@c-%05d.tar.gz", $0 % 7, $0) }
    }

    func listAll(_ target: StorageTarget, plan: ListingPlan = ListingPlan()) throws -> [StorageObject] {
        var objects: [StorageObject] = []
        try target.list(plan: plan) { objects.append($0) }
        return objects
    }

    func presentRows(_ index: Index) throws -> [String] {
        try index.query("SELECT key || ' ' || size FROM objects WHERE gone_scan IS NULL ORDER BY key")
    }

    @Test func rangesCutFromThePreviousScanSeeKeysAddedAndRemovedSinceAndMatchASequentialListing() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, keys(0..<4500).map { ($0, Data("x".utf8)) })
        let dir = try TempDir()
        let parallel = try Index(path: dir.path("parallel.sqlite"))
        let scanner = DRAudit.Scanner(index: parallel, logger: Workspace.quietLogger)
        #expect(try scanner.scan(role: .portal, target: target(server, bucket: bucket)).counts?.seen == 4500)
        let cuts = try parallel.keyCuts(source: "portal", parts: 4)
        #expect(cuts == [String(keys(0..<4500).sorted(by: KeyOrder.less)[2249].dropFirst(2))])  // two ranges of at least 2000 keys each

        // Between scans: new keys before, between and after the cuts, some removed, one replaced by a bigger one.
        let added =
            keys(4500..<4900) + ["p/_portal_system_backup-20260101.010000.tar.gz", "p/zzz-last.txt", "p/0-first"]
        try server.put(bucket: bucket, added.map { ($0, Data("x".utf8)) } + [(keys(5..<6)[0], Data("bigger".utf8))])
        let removed = keys(100..<160)
        let writer = try server.writer()
        for key in removed {
            #expect(
                try writer.request("DELETE", "\(server.endpoint)/\(bucket)/\(S3Location.encode(key, keepSlash: true))")
                    .status == 204)
        }
        let rescan = try scanner.scan(role: .portal, target: target(server, bucket: bucket, parallel: 6))
        #expect(rescan.error == nil, "\(rescan.error?.message ?? "")")
        #expect(rescan.counts?.seen == 4500 + added.count - removed.count)
        #expect(rescan.counts?.added == added.count + 1)
        #expect(rescan.counts?.gone == removed.count + 1)

        let sequential = try Index(path: dir.path("sequential.sqlite"))
        let one = try DRAudit.Scanner(index: sequential, logger: Workspace.quietLogger).scan(
            role: .portal, target: target(server, bucket: bucket, parallel: 1))
        #expect(one.error == nil)
        #expect(try presentRows(parallel) == presentRows(sequential))
    }

    @Test func keysExactlyOnACutAndEmptyRangesAreListedOnce() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let all = keys(0..<700)
        try server.put(bucket: bucket, all.map { ($0, Data("x".utf8)) })
        let relative = all.map { String($0.dropFirst(2)) }
        let plan = ListingPlan(cuts: [
            relative[0], relative[99], relative[100], relative[350] + "\u{0}", relative[350] + "~",
            "zzzz-after-everything", relative[699],
        ])
        for parallel in [1, 3, 8] {
            let listed = try listAll(target(server, bucket: bucket, parallel: parallel), plan: plan).map(\.key)
            #expect(listed.count == 700)
            #expect(listed.sorted(by: KeyOrder.less) == relative.sorted(by: KeyOrder.less))
        }
    }

    @Test func aFirstScanWithoutCutsSpreadsOutAndStillSeesEveryKeyOnce() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let all =
            keys(0..<2500) + (0..<300).map { "p/_portal_system_backup-2026\(String(format: "%04d", $0)).010000.tar.gz" }
        try server.put(bucket: bucket, all.map { ($0, Data("x".utf8)) })
        // A distant server (30 ms a request): the one range of a first scan is cut, and cut again.
        let upstream = server.endpoint.replacingOccurrences(of: "http://", with: "")
        let far = try ScriptServer(script: "latency-proxy.py", ["--upstream", upstream, "--delay", "0.03"])
        let s3 = try target(server, bucket: bucket, endpoint: "http://127.0.0.1:\(far.port)", parallel: 8, maxKeys: 50)
        let listed = try listAll(s3).map(\.key)
        #expect(s3.rangesListed > 8)
        #expect(listed.count == all.count)
        #expect(Set(listed).count == all.count)
        // Nearby, a request costs less than cutting would: one range, listed straight through.
        let near = try target(server, bucket: bucket, parallel: 8, maxKeys: 50)
        #expect(try listAll(near).count == all.count)
        #expect(near.rangesListed == 1)
    }

    @Test func aRangeThatFailsMidwayFailsTheScanAndLeavesTheIndexAsItWas() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, keys(0..<4200).map { ($0, Data("x".utf8)) })
        let dir = try TempDir()
        let index = try Index(path: dir.path("i.sqlite"))
        let scanner = DRAudit.Scanner(index: index, logger: Workspace.quietLogger)
        #expect(try scanner.scan(role: .portal, target: target(server, bucket: bucket)).counts?.seen == 4200)
        let before: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")

        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--deny-continuation", "5"])
        let report = try scanner.scan(role: .portal, target: target(server, bucket: bucket, endpoint: proxy.endpoint))
        #expect(report.error?.code == "TARGET_AUTH_FAILED")
        #expect(report.error?.message.contains("AccessDenied") == true)
        let after: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")
        #expect(after == before)
        let statuses: [String] = try index.query("SELECT status FROM scans ORDER BY id")
        #expect(statuses == ["ok", "failed"])
    }

    @Test(arguments: [("--repeat-token", "repeated a continuation token"), ("--replay-first-page", "does not advance")])
    func aServerThatLoopsFailsTheListingWithOneLine(fault: String, message: String) throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, keys(0..<60).map { ($0, Data("x".utf8)) })
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, [fault])
        for parallel in [1, 4] {
            let started = Date()
            let error = try #require(throws: DRAuditError.self) {
                try listAll(target(server, bucket: bucket, endpoint: proxy.endpoint, parallel: parallel, maxKeys: 10))
            }
            #expect(error.message.contains(message), "\(error.message)")
            #expect(!error.message.contains("\n"))
            #expect(error.code == "TARGET_UNREACHABLE")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }

    @Test func aSenderOfOneByteASecondCannotKeepARequestAlive() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, keys(0..<5).map { ($0, Data("x".utf8)) })
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--trickle"])
        let started = Date()
        let error = try #require(throws: DRAuditError.self) {
            try listAll(target(server, bucket: bucket, endpoint: proxy.endpoint, timeout: 2, attempts: 2))
        }
        #expect(error.code == "TARGET_UNREACHABLE")
        #expect(error.message.contains("too slow"), "\(error.message)")
        #expect(Date().timeIntervalSince(started) < 15)
    }

    @Test func aSteadyTrickleAboveTheLowSpeedLimitStillMeetsTheRequestDeadline() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--drip", "4096"])
        let started = Date()
        let error = try #require(throws: DRAuditError.self) {
            try listAll(target(server, bucket: bucket, endpoint: proxy.endpoint, timeout: 2, attempts: 1))
        }
        #expect(error.message.contains("timed out"), "\(error.message)")
        let took = Date().timeIntervalSince(started)
        #expect(took >= CurlClient.deadline(timeout: 2) - 0.5 && took < 15)
    }
}
