import Foundation

/// Where an APIC object-store backup lives, from the CR's conventions:
/// `host: <endpoint>/<region>` and `path: <bucket>/<folder>/<folder>`.
public struct S3Location: Hashable, Sendable {
    public enum Style: String, Sendable { case path, virtual }

    public var scheme: String
    /// Host, with a port when one is given.
    public var endpoint: String
    public var region: String
    public var bucket: String
    /// Key prefix without a leading slash, ending in `/` unless empty.
    public var prefix: String
    public var style: Style

    /// `endpointOverride` (e.g. `http://127.0.0.1:8333`) replaces the scheme and endpoint; plain http only comes from it.
    public static func from(
        host: String?, path: String?, provider: String?, uriStyle: String?,
        endpointOverride: String?
    ) throws -> S3Location {
        guard let host, !host.isEmpty else { throw DocumentError("objstore target needs a host (<endpoint>/<region>)") }
        let hostParts = host.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var endpoint = hostParts[0]
        var scheme = "https"
        if endpoint.hasPrefix("https:") || endpoint.hasPrefix("http:") {
            throw DocumentError(
                "objstore host '\(host)' must not carry a scheme; use the endpoint override for plain http")
        }
        let region = hostParts.count > 1 ? hostParts[1] : "us-east-1"
        if let endpointOverride {
            guard let url = URLComponents(string: endpointOverride), let s = url.scheme, ["http", "https"].contains(s),
                let h = url.host, !h.isEmpty
            else {
                throw DocumentError("endpoint '\(endpointOverride)' is not an http(s) URL")
            }
            scheme = s
            endpoint = url.port.map { "\(h):\($0)" } ?? h
        }
        let pathParts = (path ?? "").split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let bucket = pathParts.first else {
            throw DocumentError("objstore target needs a path (<bucket>/<folder>)")
        }
        guard bucket.range(of: #"^[a-z0-9][a-z0-9.\-_]{1,62}$"#, options: .regularExpression) != nil else {
            throw DocumentError("'\(bucket)' is not a valid bucket name")
        }
        let prefix = pathParts.dropFirst().map { $0 + "/" }.joined()
        let style: Style
        switch uriStyle?.lowercased() {
        case "path"?: style = .path
        case "virtual"?: style = .virtual
        case nil, ""?: style = provider?.lowercased() == "aws" ? .virtual : .path
        case let other?: throw DocumentError("backups3URIStyle '\(other)' is neither path nor virtual")
        }
        return S3Location(
            scheme: scheme, endpoint: endpoint, region: region, bucket: bucket, prefix: prefix, style: style)
    }

    public var display: String { "s3://\(bucket)/\(prefix) at \(scheme)://\(endpoint) (\(region))" }

    /// RFC 3986 unreserved characters stay; everything else is %XX (what SigV4 expects).
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    private var base: String {
        style == .virtual ? "\(scheme)://\(bucket).\(endpoint)/" : "\(scheme)://\(endpoint)/\(bucket)/"
    }

    /// ListObjectsV2. Query parameters in canonical (sorted) order: curl's SigV4 signs them as given.
    public func listURL(continuationToken: String?, startAfter: String? = nil, maxKeys: Int = 1000) -> String {
        // encoding-type=url: keys come back percent-encoded. Raw, a key with a control character cannot be
        // written in XML 1.0 at all, and servers mangle it (SeaweedFS sent U+FFFD for ESC and dropped U+0085).
        var query: [(String, String)] = [
            ("encoding-type", "url"), ("list-type", "2"), ("max-keys", String(maxKeys)), ("prefix", prefix),
        ]
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        if let startAfter { query.append(("start-after", startAfter)) }
        query.sort { $0.0 < $1.0 }
        let base = style == .virtual ? "\(scheme)://\(bucket).\(endpoint)/" : "\(scheme)://\(endpoint)/\(bucket)"
        return base + "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
    }

    /// GetObject (or PutObject) of a key relative to the prefix.
    public func objectURL(_ key: String) -> String {
        base + Self.encode(prefix + key, keepSlash: true)
    }
}

/// Bounded retries with exponential backoff and full jitter.
public struct RetryPolicy: Hashable, Sendable {
    public var attempts: Int = 5
    public var base: TimeInterval = 0.2
    public var cap: TimeInterval = 5

    public init(attempts: Int = 5, base: TimeInterval = 0.2, cap: TimeInterval = 5) {
        self.attempts = attempts
        self.base = base
        self.cap = cap
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1), given a random `unit` in [0, 1).
    public func delay(afterAttempt attempt: Int, unit: Double) -> TimeInterval {
        let ceiling = min(cap, base * pow(2, Double(attempt - 1)))
        return ceiling * unit
    }

    /// S3 answers worth another try: throttling and server-side trouble.
    public static func isRetryable(status: Int, code: String?) -> Bool {
        if ["SlowDown", "InternalError", "RequestTimeout", "ServiceUnavailable", "RequestTimeTooSkewed"].contains(
            code ?? "")
        {
            return true
        }
        return status == 500 || status == 502 || status == 503 || status == 504 || status == 429
    }
}
