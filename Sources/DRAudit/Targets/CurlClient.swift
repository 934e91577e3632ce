import CCurl
import Foundation

/// One libcurl easy handle, reused for every request so connections are kept alive.
/// TLS peers and host names are always verified; only `http` and `https` are allowed; redirects are not followed.
final class CurlClient: @unchecked Sendable {
    struct Response {
        var status: Int
        var body: Data
    }

    struct TransportError: Error {
        var code: Int
        var message: String
        /// Failures where another try may succeed (refused, reset, timed out).
        var retryable: Bool
    }

    struct SigV4: Sendable {
        var region: String
        var accessKey: String
        var secretKey: String
    }

    /// TLS material beyond the system trust store.
    struct TLS: Sendable {
        var caFile: String?
        var caPEM: Data?
        var clientCertificatePEM: Data?
        var clientKeyPEM: Data?
        /// Only from a kubeconfig that sets `insecure-skip-tls-verify: true`.
        var insecureSkipVerify = false
    }

    private let handle: UnsafeMutableRawPointer
    private let signsForS3: Bool
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private final class Sink {
        var data = Data()
        var limit: Int
        init(limit: Int) { self.limit = limit }
    }

    /// Largest body accepted; a ListObjectsV2 page of 1000 keys is well under 1 MiB.
    static let bodyLimit = 64 << 20

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Bytes a second under which a transfer that lasts `timeout` fails.
    static let lowSpeedLimit = 1024

    /// The longest any one request may take.
    static func deadline(timeout: TimeInterval) -> TimeInterval { 4 * max(1, timeout) }

    convenience init(timeout: TimeInterval, caBundle: String?, sigv4: SigV4?) throws {
        try self.init(timeout: timeout, tls: TLS(caFile: caBundle), sigv4: sigv4)
    }

    init(timeout: TimeInterval, tls: TLS, sigv4: SigV4?, deadline: TimeInterval? = nil) throws {
        Self.globalInit
        guard let h = curl_easy_init() else {
            throw TransportError(code: -1, message: "libcurl could not start", retryable: false)
        }
        handle = h
        signsForS3 = sigv4 != nil
        errorBuffer = .allocate(capacity: Int(drcurl_error_size()))
        errorBuffer.initialize(repeating: 0, count: Int(drcurl_error_size()))
        _ = drcurl_set_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = drcurl_set_long(h, CURLOPT_NOSIGNAL, 1)
        _ = drcurl_set_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = drcurl_set_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = drcurl_set_long(h, CURLOPT_SSL_VERIFYPEER, 1)
        _ = drcurl_set_long(h, CURLOPT_SSL_VERIFYHOST, 2)
        _ = drcurl_set_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(timeout * 1000))
        // A slow sender cannot keep a request alive: under 1 KiB/s for `timeout` fails (no real server is that slow
        // for that long), and so does any request still running after `deadline` (4 × timeout unless given).
        _ = drcurl_set_long(h, CURLOPT_LOW_SPEED_LIMIT, Self.lowSpeedLimit)
        _ = drcurl_set_long(h, CURLOPT_LOW_SPEED_TIME, max(1, Int(timeout)))
        _ = drcurl_set_long(h, CURLOPT_TIMEOUT_MS, Int((deadline ?? Self.deadline(timeout: timeout)) * 1000))
        _ = drcurl_set_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        _ = drcurl_set_string(h, CURLOPT_ACCEPT_ENCODING, "")
        _ = drcurl_set_string(h, CURLOPT_USERAGENT, "dr-audit")
        if let file = tls.caFile { _ = drcurl_set_string(h, CURLOPT_CAINFO, file) }
        func blob(_ option: CURLoption, _ data: Data?) {
            guard let data else { return }
            _ = data.withUnsafeBytes { drcurl_set_blob(h, option, $0.baseAddress, $0.count) }
        }
        blob(CURLOPT_CAINFO_BLOB, tls.caPEM)
        blob(CURLOPT_SSLCERT_BLOB, tls.clientCertificatePEM)
        blob(CURLOPT_SSLKEY_BLOB, tls.clientKeyPEM)
        if tls.clientCertificatePEM != nil { _ = drcurl_set_string(h, CURLOPT_SSLCERTTYPE, "PEM") }
        if tls.insecureSkipVerify {
            _ = drcurl_set_long(h, CURLOPT_SSL_VERIFYPEER, 0)
            _ = drcurl_set_long(h, CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let sigv4 {
            _ = drcurl_set_string(h, CURLOPT_AWS_SIGV4, "aws:amz:\(sigv4.region):s3")
            _ = drcurl_set_string(h, CURLOPT_USERNAME, sigv4.accessKey)
            _ = drcurl_set_string(h, CURLOPT_PASSWORD, sigv4.secretKey)
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// SHA-256 of an empty body: curl 7.88's SigV4 does not send x-amz-content-sha256 itself.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func request(_ method: String, _ url: String, headers: [String] = [], body: Data? = nil) throws -> Response {
        let sink = Sink(limit: Self.bodyLimit)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        _ = drcurl_set_string(handle, CURLOPT_URL, url)
        _ = drcurl_set_write(
            handle,
            { data, size, count, context in
                let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
                let n = size * count
                if sink.data.count + n > sink.limit { return 0 }  // aborts the transfer
                if let data { sink.data.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: n) }
                return n
            }, context)
        var list: UnsafeMutablePointer<curl_slist>?
        let signing =
            signsForS3 ? ["x-amz-content-sha256: \(body == nil ? Self.emptyPayloadHash : "UNSIGNED-PAYLOAD")"] : []
        for header in headers + signing {
            list = curl_slist_append(list, header)
        }
        defer { curl_slist_free_all(list) }
        _ = drcurl_set_headers(handle, list)
        errorBuffer[0] = 0
        var code: CURLcode
        if let body {
            _ = drcurl_set_string(handle, CURLOPT_CUSTOMREQUEST, method)
            code = body.withUnsafeBytes { raw in
                _ = drcurl_set_long(handle, CURLOPT_POSTFIELDSIZE, raw.count)
                _ = drcurl_set_pointer(
                    handle, CURLOPT_POSTFIELDS,
                    UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                return curl_easy_perform(handle)
            }
            _ = drcurl_set_pointer(handle, CURLOPT_POSTFIELDS, nil)
            _ = drcurl_set_long(handle, CURLOPT_HTTPGET, 1)
            _ = drcurl_set_string(handle, CURLOPT_CUSTOMREQUEST, nil)
        } else {
            _ = drcurl_set_long(handle, CURLOPT_HTTPGET, 1)
            _ = drcurl_set_string(handle, CURLOPT_CUSTOMREQUEST, method == "GET" ? nil : method)
            code = curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            let retryable: Set<UInt32> = [
                CURLE_COULDNT_CONNECT.rawValue, CURLE_OPERATION_TIMEDOUT.rawValue, CURLE_SEND_ERROR.rawValue,
                CURLE_RECV_ERROR.rawValue, CURLE_GOT_NOTHING.rawValue, CURLE_PARTIAL_FILE.rawValue,
                CURLE_COULDNT_RESOLVE_HOST.rawValue,
            ]
            let message = code == CURLE_WRITE_ERROR ? "response larger than \(Self.bodyLimit >> 20) MiB" : detail
            throw TransportError(
                code: Int(code.rawValue), message: message, retryable: retryable.contains(code.rawValue))
        }
        return Response(status: drcurl_response_code(handle), body: sink.data)
    }
}

extension CurlClient {
    /// How a streamed GET ended: the HTTP status, and for a non-2xx answer its (bounded) body.
    struct StreamResult {
        var status: Int
        var errorBody: Data
        /// `consume` asked to stop before the end.
        var stopped: Bool
    }

    private final class StreamSink {
        let handle: UnsafeMutableRawPointer
        let consume: (UnsafeRawBufferPointer) throws -> Bool
        var status = 0
        var errorBody = Data()
        var failure: Error?
        var stopped = false
        init(handle: UnsafeMutableRawPointer, consume: @escaping (UnsafeRawBufferPointer) throws -> Bool) {
            self.handle = handle
            self.consume = consume
        }
    }

    /// A GET whose body is handed to `consume` as it arrives (a 2xx answer only; an error answer's body is kept,
    /// up to 64 kB, for its message). Content is not decoded: the bytes are the object's, as stored.
    /// A `consume` that throws ends the transfer and its error is rethrown.
    func stream(_ url: String, headers: [String] = [], consume: (UnsafeRawBufferPointer) throws -> Bool) throws
        -> StreamResult
    {
        try withoutActuallyEscaping(consume) { consume in
            let sink = StreamSink(handle: handle, consume: consume)
            let context = Unmanaged.passUnretained(sink).toOpaque()
            _ = drcurl_set_string(handle, CURLOPT_URL, url)
            _ = drcurl_set_string(handle, CURLOPT_ACCEPT_ENCODING, nil)
            _ = drcurl_set_long(handle, CURLOPT_HTTP_CONTENT_DECODING, 0)
            _ = drcurl_set_long(handle, CURLOPT_BUFFERSIZE, 512 << 10)
            defer {
                _ = drcurl_set_string(handle, CURLOPT_ACCEPT_ENCODING, "")
                _ = drcurl_set_long(handle, CURLOPT_HTTP_CONTENT_DECODING, 1)
            }
            _ = drcurl_set_write(
                handle,
                { data, size, count, context in
                    let sink = Unmanaged<StreamSink>.fromOpaque(context!).takeUnretainedValue()
                    let n = size * count
                    if sink.status == 0 { sink.status = drcurl_response_code(sink.handle) }
                    guard (200..<300).contains(sink.status) else {
                        if sink.errorBody.count < 64 << 10, let data {
                            sink.errorBody.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: n)
                        }
                        return n
                    }
                    do {
                        if try sink.consume(UnsafeRawBufferPointer(start: data, count: n)) { return n }
                        sink.stopped = true
                    } catch {
                        sink.failure = error
                    }
                    return 0  // ends the transfer
                }, context)
            var list: UnsafeMutablePointer<curl_slist>?
            let signing = signsForS3 ? ["x-amz-content-sha256: \(Self.emptyPayloadHash)"] : []
            for header in headers + signing { list = curl_slist_append(list, header) }
            defer { curl_slist_free_all(list) }
            _ = drcurl_set_headers(handle, list)
            _ = drcurl_set_long(handle, CURLOPT_HTTPGET, 1)
            _ = drcurl_set_string(handle, CURLOPT_CUSTOMREQUEST, nil)
            errorBuffer[0] = 0
            let code = curl_easy_perform(handle)
            if let failure = sink.failure { throw failure }
            if sink.stopped { return StreamResult(status: sink.status, errorBody: Data(), stopped: true) }
            guard code == CURLE_OK else {
                let detail =
                    errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
                let retryable: Set<UInt32> = [
                    CURLE_COULDNT_CONNECT.rawValue, CURLE_OPERATION_TIMEDOUT.rawValue, CURLE_SEND_ERROR.rawValue,
                    CURLE_RECV_ERROR.rawValue, CURLE_GOT_NOTHING.rawValue, CURLE_PARTIAL_FILE.rawValue,
                    CURLE_COULDNT_RESOLVE_HOST.rawValue,
                ]
                throw TransportError(
                    code: Int(code.rawValue), message: detail, retryable: retryable.contains(code.rawValue))
            }
            return StreamResult(
                status: sink.status == 0 ? drcurl_response_code(handle) : sink.status, errorBody: sink.errorBody,
                stopped: false)
        }
    }
}
