import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// Against the real SeaweedFS S3 started by scripts/test-servers.sh; signatures are verified there.
@Suite(.serialized)
struct S3Tests {
    func target(
        _ server: S3Server, bucket: String, folder: String = "", endpoint: String? = nil, style: String = "path",
        credentials: BackupCredentials? = nil
    ) throws -> S3Target {
        let location = try S3Location.from(
            host: "s3.example.com/us-east-1", path: "\(bucket)/\(folder)", provider: "custom",
            uriStyle: style, endpointOverride: endpoint ?? server.endpoint)
        var settings = S3Target.Settings(location: location, credentials: credentials ?? server.credentials)
        settings.timeout = 5
        settings.retry = RetryPolicy(attempts: 5, base: 0.05, cap: 0.5)
        return S3Target(settings)
    }

    func listAll(_ target: StorageTarget) throws -> [StorageObject] {
        var objects: [StorageObject] = []
        try target.list { objects.append($0) }
        return objects
    }

    @Test func listsUnderAPrefixWithSizesAndTimes() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(
            bucket: bucket,
            [
                ("portal/_portal_system_backup-20260101.010000.tar.gz", Data("system".utf8)),
                ("portal/portal-web.think.org@e1@enterprise-20260101.010030.tar.gz", Data("site!".utf8)),
                ("portal/2026/nested@x@y-20260101.010040.tar.gz", Data()),
                ("portal-other/not-mine.tar.gz", Data("x".utf8)),
                ("management/backup/apic/backup.info", Data("[backup:current]\n".utf8)),
            ])
        let objects = try listAll(target(server, bucket: bucket, folder: "portal"))
        #expect(
            objects.map(\.key) == [
                "2026/nested@x@y-20260101.010040.tar.gz", "_portal_system_backup-20260101.010000.tar.gz",
                "portal-web.think.org@e1@enterprise-20260101.010030.tar.gz",
            ])
        #expect(objects.map(\.size) == [0, 6, 5])
        #expect(objects.allSatisfy { abs(($0.mtime ?? .distantPast).timeIntervalSinceNow) < 300 })
        let mgmt = try target(server, bucket: bucket, folder: "management")
        #expect(
            String(decoding: try mgmt.read("backup/apic/backup.info", limit: 1000), as: UTF8.self)
                == "[backup:current]\n")
        #expect(throws: DRAuditError.self) { try mgmt.read("backup/apic/backup.info", limit: 3) }
    }

    @Test func tenThousandObjectsArePagedAThousandAtATime() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let start = UTC.date(year: 2026, month: 1, day: 1)!
        let keys = (0..<10_000).map { i in
            "p/"
                + PortalFileName.format(
                    kind: .site, site: "portal.example.com@org\(i % 40)@cat",
                    time: start.addingTimeInterval(Double(i * 60)))
        }
        try server.put(bucket: bucket, keys.map { ($0, Data("x".utf8)) })
        let objects = try listAll(target(server, bucket: bucket, folder: "p"))
        #expect(objects.count == 10_000)
        #expect(Set(objects.map(\.key)) == Set(keys.map { String($0.dropFirst(2)) }))
    }

    @Test func virtualHostedStyle() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, [("a/b.tar.gz", Data("1".utf8))])
        // SeaweedFS runs with -s3.domainName=localhost; curl resolves *.localhost to loopback itself.
        let endpoint = server.endpoint.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        let objects = try listAll(target(server, bucket: bucket, folder: "a", endpoint: endpoint, style: "virtual"))
        #expect(objects.map(\.key) == ["b.tar.gz"])
    }

    @Test func httpsIsVerifiedAgainstTheConfiguredCA() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, [("a/b.tar.gz", Data("1".utf8))])
        let location = try S3Location.from(
            host: "s3.example.com/us-east-1", path: "\(bucket)/a", provider: "custom", uriStyle: "path",
            endpointOverride: server.httpsEndpoint)
        var settings = S3Target.Settings(location: location, credentials: server.credentials)
        settings.retry = RetryPolicy(attempts: 1)
        settings.caBundle = server.caBundle
        #expect(try listAll(S3Target(settings)).count == 1)
        settings.caBundle = nil
        let error = try #require(throws: DRAuditError.self) { try listAll(S3Target(settings)) }
        #expect(error.code == "TARGET_UNREACHABLE")
        #expect(error.message.lowercased().contains("certificate"))
    }

    @Test func wrongSecretUnknownKeyAccessDeniedAndMissingBucket() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let wrongSecret = "Wrong\(UUID().uuidString)"
        let signature = try #require(throws: DRAuditError.self) {
            try listAll(
                target(
                    server, bucket: bucket,
                    credentials: BackupCredentials(username: server.accessKey, password: wrongSecret)))
        }
        #expect(signature.code == "TARGET_AUTH_FAILED")
        #expect(signature.message.contains("SignatureDoesNotMatch"))
        #expect(!signature.message.contains(wrongSecret) && !signature.message.contains(server.accessKey))

        let unknown = try #require(throws: DRAuditError.self) {
            try listAll(
                target(
                    server, bucket: bucket, credentials: BackupCredentials(username: "AKUNKNOWN000000", password: "x")))
        }
        #expect(unknown.code == "TARGET_AUTH_FAILED")
        #expect(unknown.message.contains("InvalidAccessKeyId"))

        let denied = try #require(throws: DRAuditError.self) {
            try listAll(
                target(
                    server, bucket: bucket,
                    credentials: BackupCredentials(username: server.limitedAccessKey, password: server.limitedSecretKey)
                ))
        }
        #expect(denied.code == "TARGET_AUTH_FAILED")
        #expect(denied.message.contains("AccessDenied"))

        let missing = try #require(throws: DRAuditError.self) {
            try listAll(target(server, bucket: "no-such-bucket-\(UUID().uuidString.prefix(6).lowercased())"))
        }
        #expect(missing.code == "TARGET_UNREACHABLE")
        #expect(missing.message.contains("does not exist"))
    }

    @Test func slowDownBurstsAreRetriedWithinBudget() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, [("a/1.tar.gz", Data("1".utf8))])
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--slowdown", "3"])
        #expect(try listAll(target(server, bucket: bucket, folder: "a", endpoint: proxy.endpoint)).count == 1)
        let hopeless = try ScriptServer(faultProxyTo: server.endpoint, ["--slowdown", "1000"])
        let error = try #require(throws: DRAuditError.self) {
            try listAll(target(server, bucket: bucket, folder: "a", endpoint: hopeless.endpoint))
        }
        #expect(error.message.contains("SlowDown"))
        #expect(error.message.contains("gave up after 5 attempts"))
    }

    @Test func truncatedXMLIsAClearError() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, (0..<30).map { ("a/\($0).tar.gz", Data("1".utf8)) })
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--truncate-after", "0"])
        let error = try #require(throws: DRAuditError.self) {
            try listAll(target(server, bucket: bucket, folder: "a", endpoint: proxy.endpoint))
        }
        #expect(error.message.contains("truncated or malformed XML"))
    }

    @Test func serverStoppedMidScanLeavesTheIndexAsItWas() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        try server.put(bucket: bucket, (0..<2500).map { (String(format: "a/f%05d.tar.gz", $0), Data("1".utf8)) })
        let dir = try TempDir()
        let index = try Index(path: dir.path("i.sqlite"))
        let scanner = Scanner(index: index, logger: Workspace.quietLogger)
        let first = try scanner.scan(role: .portal, target: target(server, bucket: bucket, folder: "a"))
        #expect(first.counts?.seen == 2500)
        let before: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")

        // Two pages pass, then the server is gone: the third page fails after its retries.
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--die-after", "2"])
        let report = try scanner.scan(
            role: .portal, target: target(server, bucket: bucket, folder: "a", endpoint: proxy.endpoint))
        #expect(report.error?.code == "TARGET_UNREACHABLE")
        #expect(report.error?.message.contains("gave up after 5 attempts") == true)
        let after: [String] = try index.query("SELECT key || size || ifnull(gone_scan, '-') FROM objects ORDER BY id")
        #expect(after == before)
        let statuses: [String] = try index.query("SELECT status FROM scans ORDER BY id")
        #expect(statuses == ["ok", "failed"])
    }

    @Test func endToEndScanOfAManagementRepositoryInS3() throws {
        let server = try S3Server.running()
        let bucket = try server.bucket()
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: remoteSampleOptions())
        // Upload the sample's management repository under <bucket>/management, as APIC's path: bucket/folder.
        let repo = dir.url.appendingPathComponent("storage/management")
        var uploads: [(key: String, body: Data)] = []
        let walker = LocalTarget(root: repo)
        try walker.list { uploads.append(("management/" + $0.key, try walker.read($0.key, limit: 1 << 20))) }
        try server.put(bucket: bucket, uploads)
        // EDB's key names for an object store Secret.
        try secretYAML(
            "mgmt-backup-secret", username: server.accessKey, password: server.secretKey, keys: ("key", "keysecret")
        ).write(toFile: dir.path("mgmt-backup-secret.yaml"), atomically: true, encoding: .utf8)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "    protocol: local\n    path: ./storage/management",
            with: "    protocol: objstore\n    path: \(bucket)/management")
        text = text.replacingOccurrences(
            of: "  secret: ./mgmt-backup-secret.yaml",
            with: "  secret: ./mgmt-backup-secret.yaml\n  endpoint: \(server.endpoint)")
        try text.write(to: config, atomically: true, encoding: .utf8)

        let scan = try cli(["scan", "--config", config.path])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("management: s3://\(bucket)/management/ at \(server.endpoint)"))
        let pairs = try cli(["pairs", "--config", config.path, "--now", testNowText, "--format", "json"])
        #expect((try json(pairs.stdout)["pairs"] as? [Any])?.count == 21)
        // Archive times are the upload's LastModified (today), so every window runs to today and they merge; the
        // hole is still found.
        let audit = try cli(["audit", "--config", config.path, "--now", testNowText, "--format", "json"])
        #expect(audit.stdout.contains("MGMT_WAL_GAP"))
        #expect((try json(pairs.stdout)["recoveryWindows"] as? [Any])?.count == 1)
        let everything = scan.stdout + scan.stderr + pairs.stdout + pairs.stderr
        #expect(!everything.contains(server.secretKey) && !everything.contains(server.accessKey))
        let index = try Data(contentsOf: dir.url.appendingPathComponent("dr-audit.sqlite"))
        #expect(
            index.range(of: Data(server.secretKey.utf8)) == nil && index.range(of: Data(server.accessKey.utf8)) == nil)
    }
}

struct S3LocationTests {
    @Test func apicConventions() throws {
        let aws = try S3Location.from(
            host: "s3.amazonaws.com/us-east-1", path: "my-bucket/apic/portal", provider: "aws", uriStyle: nil,
            endpointOverride: nil)
        #expect(aws.scheme == "https")
        #expect(aws.endpoint == "s3.amazonaws.com")
        #expect(aws.region == "us-east-1")
        #expect(aws.bucket == "my-bucket")
        #expect(aws.prefix == "apic/portal/")
        #expect(aws.style == .virtual)
        #expect(
            aws.listURL(continuationToken: nil)
                == "https://my-bucket.s3.amazonaws.com/?encoding-type=url&list-type=2&max-keys=1000&prefix=apic%2Fportal%2F"
        )
        let ibm = try S3Location.from(
            host: "s3.eu-gb.cloud-object-storage.appdomain.cloud/eu-standard", path: "bkt", provider: "ibm",
            uriStyle: "path", endpointOverride: nil)
        #expect(ibm.region == "eu-standard")
        #expect(ibm.prefix == "")
        #expect(
            ibm.listURL(continuationToken: "a+b/c=")
                == "https://s3.eu-gb.cloud-object-storage.appdomain.cloud/bkt?continuation-token=a%2Bb%2Fc%3D&encoding-type=url&list-type=2&max-keys=1000&prefix="
        )
        #expect(
            ibm.objectURL("backup/apic/x@y.info")
                == "https://s3.eu-gb.cloud-object-storage.appdomain.cloud/bkt/backup/apic/x%40y.info")
        let local = try S3Location.from(
            host: "minio.internal/us-east-1", path: "/bkt/a/", provider: "custom", uriStyle: nil,
            endpointOverride: "http://127.0.0.1:8333")
        #expect(local.scheme == "http")
        #expect(local.endpoint == "127.0.0.1:8333")
        #expect(local.prefix == "a/")
        #expect(throws: DocumentError.self) {
            try S3Location.from(host: nil, path: "b", provider: nil, uriStyle: nil, endpointOverride: nil)
        }
        #expect(throws: DocumentError.self) {
            try S3Location.from(host: "h", path: "", provider: nil, uriStyle: nil, endpointOverride: nil)
        }
        #expect(throws: DocumentError.self) {
            try S3Location.from(host: "h", path: "Bad_Bucket!", provider: nil, uriStyle: nil, endpointOverride: nil)
        }
        #expect(throws: DocumentError.self) {
            try S3Location.from(host: "h", path: "b", provider: nil, uriStyle: "weird", endpointOverride: nil)
        }
        #expect(throws: DocumentError.self) {
            try S3Location.from(host: "h", path: "b", provider: nil, uriStyle: nil, endpointOverride: "ftp://x")
        }
    }

    @Test func xmlPagesAndErrors() throws {
        let page = try S3XML.parseList(
            Data(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated>
                <Contents><Key>a&amp;b.tar.gz</Key><LastModified>2026-01-01T01:00:00.000Z</LastModified><ETag>&#34;x&#34;</ETag><Size>12</Size></Contents>
                <NextContinuationToken>tok/1=</NextContinuationToken></ListBucketResult>
                """.utf8))
        #expect(page.objects.map(\.key) == ["a&b.tar.gz"])
        #expect(page.objects[0].size == 12)
        #expect(page.objects[0].lastModified == UTC.parseRFC3339("2026-01-01T01:00:00Z"))
        #expect(page.isTruncated)
        #expect(page.nextContinuationToken == "tok/1=")
        #expect(throws: S3XML.XMLError.self) {
            try S3XML.parseList(Data("<ListBucketResult><Contents><Key>a</Key>".utf8))
        }
        #expect(throws: S3XML.XMLError.self) {
            try S3XML.parseList(Data("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>".utf8))
        }
        #expect(throws: S3XML.XMLError.self) { try S3XML.parseList(Data("<Error><Code>x</Code></Error>".utf8)) }
        #expect(throws: S3XML.XMLError.self) {
            try S3XML.parseList(Data("<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>".utf8))
        }
        #expect(
            S3XML.parseError(Data("<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>".utf8))
                == .init(code: "NoSuchBucket", message: "gone"))
        #expect(S3XML.parseError(Data("<html>502</html>".utf8)) == nil)
    }

    @Test func retryPolicy() {
        let p = RetryPolicy(attempts: 5, base: 0.2, cap: 1)
        #expect(p.delay(afterAttempt: 1, unit: 0.5) == 0.1)
        #expect(p.delay(afterAttempt: 3, unit: 0.999) < 0.8)
        #expect(p.delay(afterAttempt: 10, unit: 0.5) == 0.5)
        #expect(RetryPolicy.isRetryable(status: 503, code: "SlowDown"))
        #expect(RetryPolicy.isRetryable(status: 500, code: nil))
        #expect(!RetryPolicy.isRetryable(status: 403, code: "AccessDenied"))
        #expect(!RetryPolicy.isRetryable(status: 404, code: "NoSuchBucket"))
    }
}
