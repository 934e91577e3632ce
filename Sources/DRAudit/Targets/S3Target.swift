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
        /// Key ranges listed at once, each over its own connection.
        public var parallel = 8

        public init(location: S3Location, credentials: BackupCredentials) {
            self.location = location
            self.credentials = credentials
        }
    }

    let settings: Settings
    private var client: CurlClient?
    /// Ranges the last listing went through (the plan's, and those cut from them while listing).
    private(set) var rangesListed = 0

    public init(_ settings: Settings) { self.settings = settings }

    public var location: String { settings.location.display }

    private func http() throws -> CurlClient {
        if let client { return client }
        let made = try makeClient()
        client = made
        return made
    }

    /// A client of its own (a connection of its own) for one worker.
    private func makeClient() throws -> CurlClient {
        guard let access = settings.credentials.username, let secret = settings.credentials.password else {
            throw DRAuditError(
                "\(location): the backup Secret needs an access key and secret (username/password or key/keysecret)",
                code: "TARGET_AUTH_FAILED")
        }
        return try CurlClient(
            timeout: settings.timeout, caBundle: settings.caBundle,
            sigv4: .init(region: settings.location.region, accessKey: access, secretKey: secret))
    }

    public var keyRangeParallelism: Int { max(1, settings.parallel) }

    public func list(_ visit: (StorageObject) throws -> Void) throws { try list(plan: ListingPlan(), visit) }

    /// Lists the key ranges between the plan's cuts at once, `parallel` at a time, each over its own connection;
    /// a range still being listed when a worker is free is cut again (`KeyRanges.splitCuts`), so a first scan
    /// spreads out too. Every key is seen exactly once whatever the cuts; any range that fails fails the listing.
    public func list(plan: ListingPlan, _ visit: (StorageObject) throws -> Void) throws {
        let prefix = settings.location.prefix
        let ranges = KeyRanges.ranges(cuts: plan.cuts.map { prefix + $0 })
        let listing = RangeListing(ranges: ranges, capacity: 2 * keyRangeParallelism)
        let first = try makeClient()  // credentials are checked before any thread starts
        try listing.run(workers: keyRangeParallelism, visit) { worker, work in
            let client = worker == 0 ? first : try self.makeClient()
            try self.listRange(work, listing: listing, client: client)
        }
        rangesListed = listing.rangesStarted
    }

    /// Lists one range page by page until a key lies past its end (which may move closer while it runs).
    private func listRange(_ work: RangeListing.Work, listing: RangeListing, client: CurlClient) throws {
        let prefix = settings.location.prefix
        var chain = S3ListingChain()
        var token: String?
        let after = listing.range(of: work).after
        repeat {
            // A guessed range's first page is small: if the range is empty, it reads only a few keys past its end.
            let maxKeys = work.isGuess && token == nil ? max(10, settings.maxKeys / 10) : settings.maxKeys
            let url = settings.location.listURL(
                continuationToken: token, startAfter: token == nil ? after : nil, maxKeys: maxKeys)
            let sent = Date()
            let response = try send("GET", url, what: "listing", client: client)
            listing.noteRoundTrip(Date().timeIntervalSince(sent))
            let page: S3XML.Page
            do { page = try S3XML.parseList(response.body) } catch {
                throw DRAuditError(
                    "\(location): listing answer is unusable: \(DRAuditError.oneLine(error))",
                    code: "TARGET_UNREACHABLE")
            }
            do {
                try chain.accept(
                    keys: page.objects.map(\.key), isTruncated: page.isTruncated, nextToken: page.nextContinuationToken)
            } catch let stuck as S3ListingChain.Stuck {
                throw DRAuditError("\(location): listing failed: \(stuck.description)", code: "TARGET_UNREACHABLE")
            }
            let range = listing.range(of: work)
            var objects: [StorageObject] = []
            objects.reserveCapacity(page.objects.count)
            var past = false
            for object in page.objects {
                if range.isPast(object.key) {
                    past = true
                    break
                }
                // Keys are reported relative to the configured folder; folder markers are not objects.
                guard object.key.hasPrefix(prefix), !object.key.hasSuffix("/") else { continue }
                objects.append(
                    StorageObject(
                        key: String(object.key.dropFirst(prefix.count)), size: object.size, mtime: object.lastModified))
            }
            try listing.deliver(objects)
            guard !past, page.isTruncated else { return }
            if let firstKey = page.objects.first?.key, let lastKey = page.objects.last?.key {
                listing.shareOut(work) { through, count in
                    KeyRanges.splitCuts(
                        first: firstKey, last: lastKey, keysInPage: page.objects.count, through: through, count: count,
                        minimumKeys: self.settings.maxKeys)
                }
            }
            token = page.nextContinuationToken
        } while token != nil
    }

    public func read(_ key: String, limit: Int) throws -> Data { try read(key, limit: limit, client: try http()) }

    private func read(_ key: String, limit: Int, client: CurlClient) throws -> Data {
        let response = try send("GET", settings.location.objectURL(key), what: "reading \(key)", client: client)
        guard response.body.count <= limit else {
            throw DRAuditError("\(location): \(key) is larger than \(limit) bytes")
        }
        return response.body
    }

    /// GETs the objects `parallel` at a time, each worker over its own connection.
    public func read(_ keys: [String], limit: Int, _ each: (String, Data) throws -> Void) throws {
        guard keys.count > 1 else {
            for key in keys { try each(key, try read(key, limit: limit)) }
            return
        }
        let first = try http()
        try ParallelReads.run(keys: keys, workers: min(keyRangeParallelism, keys.count), each) { worker in
            let client = worker == 0 ? first : try self.makeClient()
            return { key in try self.read(key, limit: limit, client: client) }
        }
    }

    /// Sends with bounded retries; turns S3 error bodies into one-line messages with finding codes.
    private func send(
        _ method: String, _ url: String, what: String, body: Data? = nil, client: CurlClient? = nil
    ) throws -> CurlClient.Response {
        let client = try client ?? http()
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

extension S3Target {
    /// A GET streamed into `consume`. A dropped connection or a 5xx/SlowDown answer is retried like every request;
    /// a retry after bytes were handed over asks for the rest only (`Range`), so `consume` sees each byte once.
    public func stream(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int64 {
        let client = try http()
        let url = settings.location.objectURL(key)
        var delivered: Int64 = 0
        var attempt = 0
        while true {
            attempt += 1
            var failure: DRAuditError
            var retryable: Bool
            let resumeAt = delivered
            do {
                let result = try client.stream(url, headers: resumeAt > 0 ? ["Range: bytes=\(resumeAt)-"] : []) {
                    chunk in
                    delivered += Int64(chunk.count)
                    return try consume(chunk)
                }
                if result.stopped { return delivered }
                if (200..<300).contains(result.status) {
                    if resumeAt > 0 && result.status != 206 {
                        throw DRAuditError(
                            "\(location): reading \(key): the connection dropped after \(resumeAt) bytes and the server does not resume (HTTP \(result.status) to a Range request)",
                            code: "TARGET_UNREACHABLE")
                    }
                    return delivered
                }
                let error = S3XML.parseError(result.errorBody)
                retryable = RetryPolicy.isRetryable(status: result.status, code: error?.code)
                failure = describeStreamFailure(status: result.status, error: error, key: key)
            } catch let transport as CurlClient.TransportError {
                retryable = transport.retryable
                failure = DRAuditError(
                    "\(location): reading \(key) failed after \(delivered) bytes: \(redactStream(transport.message))",
                    code: "TARGET_UNREACHABLE")
            }
            guard retryable, attempt < settings.retry.attempts else {
                if retryable { failure.message += " (gave up after \(attempt) attempts)" }
                throw failure
            }
            Thread.sleep(forTimeInterval: settings.retry.delay(afterAttempt: attempt, unit: Double.random(in: 0..<1)))
        }
    }

    private func describeStreamFailure(status: Int, error: S3XML.ErrorBody?, key: String) -> DRAuditError {
        switch error?.code {
        case "NoSuchKey"?:
            return DRAuditError(
                "\(location): \(key) is gone since the last scan (HTTP \(status) NoSuchKey); run dr-audit scan",
                code: "TARGET_UNREACHABLE")
        case "AccessDenied"?, "SignatureDoesNotMatch"?, "InvalidAccessKeyId"?:
            return DRAuditError(
                "\(location): reading \(key): HTTP \(status) \(error!.code) (check the key's read permission)",
                code: "TARGET_AUTH_FAILED")
        case let code?:
            return DRAuditError(
                "\(location): reading \(key): HTTP \(status) \(code)\(error?.message.map { ": " + redactStream($0) } ?? "")",
                code: "TARGET_UNREACHABLE")
        case nil:
            return DRAuditError(
                "\(location): reading \(key): HTTP \(status)",
                code: status == 401 || status == 403 ? "TARGET_AUTH_FAILED" : "TARGET_UNREACHABLE")
        }
    }

    private func redactStream(_ text: String) -> String {
        var out = text
        for secret in [settings.credentials.username, settings.credentials.password].compactMap({ $0 })
        where !secret.isEmpty {
            out = out.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return out
    }
}
