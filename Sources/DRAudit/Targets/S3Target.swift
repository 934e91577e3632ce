import DRAuditCore
import Foundation

/// An S3-compatible object store (AWS, IBM COS, custom) read through libcurl with SigV4.
public final class S3Target: StorageTarget, @unchecked Sendable {
    public struct Settings: Sendable {
        public var location: S3Location
        public var credentials: BackupCredentials
        public var caBundle: String?
        public var timeout: TimeInterval = 30
        public var retry = RetryPolicy()
        public var maxKeys = 1000

        public init(location: S3Location, credentials: BackupCredentials) {
            self.location = location
            self.credentials = credentials
        }
    }

    let settings: Settings
    private var client: CurlClient?

    public init(_ settings: Settings) { self.settings = settings }

    public var location: String { settings.location.display }

    private func http() throws -> CurlClient {
        if let client { return client }
        guard let access = settings.credentials.username, let secret = settings.credentials.password else {
            throw DRAuditError(
                "\(location): the backup Secret needs an access key and secret (username/password or key/keysecret)",
                code: "TARGET_AUTH_FAILED")
        }
        let made = try CurlClient(
            timeout: settings.timeout, caBundle: settings.caBundle,
            sigv4: .init(region: settings.location.region, accessKey: access, secretKey: secret))
        client = made
        return made
    }

    public func list(_ visit: (StorageObject) throws -> Void) throws {
        var token: String?
        let prefix = settings.location.prefix
        repeat {
            let response = try send(
                "GET", settings.location.listURL(continuationToken: token, maxKeys: settings.maxKeys), what: "listing")
            let page: S3XML.Page
            do { page = try S3XML.parseList(response.body) } catch {
                throw DRAuditError(
                    "\(location): listing answer is unusable: \(DRAuditError.oneLine(error))",
                    code: "TARGET_UNREACHABLE")
            }
            for object in page.objects {
                // Keys are reported relative to the configured folder; folder markers are not objects.
                guard object.key.hasPrefix(prefix), !object.key.hasSuffix("/") else { continue }
                try visit(
                    StorageObject(
                        key: String(object.key.dropFirst(prefix.count)), size: object.size, mtime: object.lastModified))
            }
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
    }

    public func read(_ key: String, limit: Int) throws -> Data {
        let response = try send("GET", settings.location.objectURL(key), what: "reading \(key)")
        guard response.body.count <= limit else {
            throw DRAuditError("\(location): \(key) is larger than \(limit) bytes")
        }
        return response.body
    }

    /// Sends with bounded retries; turns S3 error bodies into one-line messages with finding codes.
    private func send(_ method: String, _ url: String, what: String, body: Data? = nil) throws -> CurlClient.Response {
        let client = try http()
        var attempt = 0
        while true {
            attempt += 1
            var failure: DRAuditError
            var retryable: Bool
            do {
                let response = try client.request(method, url, body: body)
                if (200..<300).contains(response.status) { return response }
                let error = S3XML.parseError(response.body)
                retryable = RetryPolicy.isRetryable(status: response.status, code: error?.code)
                failure = describe(status: response.status, error: error, what: what)
            } catch let transport as CurlClient.TransportError {
                retryable = transport.retryable
                failure = DRAuditError(
                    "\(location): \(what) failed: \(redact(transport.message))", code: "TARGET_UNREACHABLE")
            }
            guard retryable, attempt < settings.retry.attempts else {
                if retryable { failure.message += " (gave up after \(attempt) attempts)" }
                throw failure
            }
            Thread.sleep(forTimeInterval: settings.retry.delay(afterAttempt: attempt, unit: Double.random(in: 0..<1)))
        }
    }

    private func describe(status: Int, error: S3XML.ErrorBody?, what: String) -> DRAuditError {
        let bucket = settings.location.bucket
        switch error?.code {
        case "AccessDenied"?:
            return DRAuditError(
                "\(location): \(what): access denied (HTTP \(status) AccessDenied); check the bucket policy for this key",
                code: "TARGET_AUTH_FAILED")
        case "SignatureDoesNotMatch"?:
            return DRAuditError(
                "\(location): \(what): the secret key does not match the access key (HTTP \(status) SignatureDoesNotMatch)",
                code: "TARGET_AUTH_FAILED")
        case "InvalidAccessKeyId"?:
            return DRAuditError(
                "\(location): \(what): the access key is unknown to the server (HTTP \(status) InvalidAccessKeyId)",
                code: "TARGET_AUTH_FAILED")
        case "NoSuchBucket"?:
            return DRAuditError(
                "\(location): bucket \(bucket) does not exist (HTTP \(status) NoSuchBucket)", code: "TARGET_UNREACHABLE"
            )
        case "NoSuchKey"?:
            return DRAuditError("\(location): \(what): no such object (HTTP \(status))", code: "TARGET_UNREACHABLE")
        case let code?:
            return DRAuditError(
                "\(location): \(what): HTTP \(status) \(code)\(error?.message.map { ": " + redact($0) } ?? "")",
                code: "TARGET_UNREACHABLE")
        case nil:
            let code = status == 401 || status == 403 ? "TARGET_AUTH_FAILED" : "TARGET_UNREACHABLE"
            return DRAuditError("\(location): \(what): HTTP \(status)", code: code)
        }
    }

    /// Server messages may quote the access key; nothing from the Secret leaves this process.
    private func redact(_ text: String) -> String {
        var out = text
        for secret in [settings.credentials.username, settings.credentials.password].compactMap({ $0 })
        where !secret.isEmpty {
            out = out.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return out
    }
}
