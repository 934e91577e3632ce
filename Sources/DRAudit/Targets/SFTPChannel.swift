import CLibSSH2
import DRAuditCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small SFTP (version 3) client over one libssh2 channel, with any number of requests in flight.
///
/// libssh2's own SFTP layer waits for each READDIR's answer before sending the next, so a listing costs one round
/// trip per 100 names. SFTP lets a client send further requests before the answers come (each READDIR on a handle
/// gets the next batch; answers name their request's id), so this keeps several in flight on each folder and lists
/// several folders at once. The SSH session (host-key verification, authentication) is libssh2's, set up as
/// before; only the SFTP packets are written here.
///
/// Requests are answered through callbacks run by `drive`, on the caller's thread. Time counts only while
/// waiting on the server: no answer byte for `timeout`, or a request unanswered after `deadline` of waiting (a
/// slow sender trickling bytes), fails.
final class SFTPChannel {
    enum PacketType: UInt8 {
        case initialize = 1
        case version = 2
        case open = 3
        case close = 4
        case read = 5
        case opendir = 11
        case readdir = 12
        case stat = 17
        case status = 101
        case handle = 102
        case data = 103
        case name = 104
        case attrs = 105
    }

    enum Status: UInt32 {
        case ok = 0
        case eof = 1
        case noSuchFile = 2
        case permissionDenied = 3
        case failure = 4
        case badMessage = 5
        case noConnection = 6
        case connectionLost = 7
        case unsupported = 8
    }

    struct Attributes {
        var size: Int64?
        var permissions: UInt32?
        var mtime: UInt32?
    }

    struct Reply {
        var type: UInt8
        var body: Reader

        /// The status of a STATUS reply (nil for other replies).
        var status: (code: UInt32, message: String)? {
            guard type == PacketType.status.rawValue else { return nil }
            var r = body
            guard let code = try? r.uint32() else { return (Status.badMessage.rawValue, "") }
            let message = (try? r.string()).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return (code, message)
        }
    }

    struct ProtocolError: Error { var message: String }

    /// Reads SFTP's big-endian fields from a packet.
    struct Reader {
        var bytes: ArraySlice<UInt8>
        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, bytes.count >= n else { throw ProtocolError(message: "truncated SFTP packet") }
            let start = bytes.startIndex
            let out = bytes[start..<(start + n)]
            bytes = bytes[(start + n)...]
            return out
        }
        mutating func uint32() throws -> UInt32 {
            guard bytes.count >= 4 else { throw ProtocolError(message: "truncated SFTP packet") }
            let i = bytes.startIndex
            let v =
                UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
            bytes = bytes[(i + 4)...]
            return v
        }
        mutating func uint64() throws -> UInt64 { UInt64(try uint32()) << 32 | UInt64(try uint32()) }
        mutating func string() throws -> ArraySlice<UInt8> { try take(Int(try uint32())) }
        mutating func skip(_ n: Int) throws { _ = try take(n) }
        mutating func attributes() throws -> Attributes {
            let flags = try uint32()
            var a = Attributes()
            if flags & 0x1 != 0 { a.size = Int64(bitPattern: try uint64()) }
            if flags & 0x2 != 0 { try skip(8) }
            if flags & 0x4 != 0 { a.permissions = try uint32() }
            if flags & 0x8 != 0 {
                try skip(4)
                a.mtime = try uint32()
            }
            if flags & 0x8000_0000 != 0 {
                for _ in 0..<(try uint32()) {
                    _ = try string()
                    _ = try string()
                }
            }
            return a
        }
    }

    /// Largest packet accepted: OpenSSH sends at most 256 KiB of payload; anything far larger is not SFTP.
    static let maxPacket = 1 << 20
    /// The channel's receive window: room for many READDIR answers (about 20 KB each) in flight.
    static let window: UInt32 = 4 << 20

    let session: OpaquePointer
    let channel: OpaquePointer
    let socket: Int32
    let timeout: TimeInterval
    let deadline: TimeInterval
    /// Names the server in messages.
    let location: String

    private var outbox: [UInt8] = []
    private var outboxSent = 0
    private var inbox: [UInt8] = []
    private var inboxStart = 0
    private var nextID: UInt32 = 1
    private var pending: [UInt32: (sentAt: TimeInterval, handler: (Reply) throws -> Void)] = [:]
    /// Seconds spent waiting on the server so far; the clock of `timeout` and `deadline`.
    private var waited: TimeInterval = 0
    private var lastByte: TimeInterval = 0
    private var readBuffer = [CChar](repeating: 0, count: 256 * 1024)

    var inFlight: Int { pending.count }

    /// Says hello on a channel running the `sftp` subsystem of a non-blocking session; from here on this class
    /// waits on the socket itself.
    init(session: OpaquePointer, channel: OpaquePointer, socket: Int32, timeout: TimeInterval, location: String) throws
    {
        self.session = session
        self.channel = channel
        self.socket = socket
        self.timeout = timeout
        deadline = 4 * max(1, timeout)
        self.location = location
        var version: UInt32?
        var body: [UInt8] = []
        Self.put32(3, &body)
        enqueue(.initialize, body)
        try drive(
            until: { version != nil },
            hello: { reply in
                guard reply.type == PacketType.version.rawValue else {
                    throw ProtocolError(message: "the server did not answer SFTP's hello")
                }
                var r = reply.body
                version = try r.uint32()
            })
        guard version == 3 else {
            throw ProtocolError(message: "the server speaks SFTP version \(version ?? 0), not 3")
        }
    }

    /// Forgets every request in flight (after a failure: their answers will never be read).
    func abandon() {
        pending.removeAll()
        outbox.removeAll()
        outboxSent = 0
    }

    /// Closes the channel (the session stays the caller's).
    func close() {
        libssh2_session_set_blocking(session, 1)
        libssh2_channel_close(channel)
        libssh2_channel_free(channel)
    }

    // MARK: - Requests

    static func put32(_ v: UInt32, _ out: inout [UInt8]) {
        out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
    static func put64(_ v: UInt64, _ out: inout [UInt8]) {
        put32(UInt32(v >> 32), &out)
        put32(UInt32(v & 0xFFFF_FFFF), &out)
    }
    static func putString<C: Collection>(_ s: C, _ out: inout [UInt8]) where C.Element == UInt8 {
        put32(UInt32(s.count), &out)
        out += s
    }

    private func enqueue(_ type: PacketType, _ body: [UInt8]) {
        Self.put32(UInt32(body.count + 1), &outbox)
        outbox.append(type.rawValue)
        outbox += body
    }

    /// Queues a request; `handler` gets its answer during `drive`.
    func request(_ type: PacketType, _ fields: [UInt8], _ handler: @escaping (Reply) throws -> Void) {
        let id = nextID
        nextID &+= 1
        var body: [UInt8] = []
        Self.put32(id, &body)
        body += fields
        enqueue(type, body)
        pending[id] = (waited, handler)
    }

    func opendir(_ path: [UInt8], _ handler: @escaping (Reply) throws -> Void) {
        var f: [UInt8] = []
        Self.putString(path, &f)
        request(.opendir, f, handler)
    }

    func readdir(_ handle: [UInt8], _ handler: @escaping (Reply) throws -> Void) {
        var f: [UInt8] = []
        Self.putString(handle, &f)
        request(.readdir, f, handler)
    }

    func stat(_ path: [UInt8], _ handler: @escaping (Reply) throws -> Void) {
        var f: [UInt8] = []
        Self.putString(path, &f)
        request(.stat, f, handler)
    }

    func openForReading(_ path: [UInt8], _ handler: @escaping (Reply) throws -> Void) {
        var f: [UInt8] = []
        Self.putString(path, &f)
        Self.put32(0x1, &f)  // SSH_FXF_READ
        Self.put32(0, &f)  // no attributes
        request(.open, f, handler)
    }

    func read(_ handle: [UInt8], offset: UInt64, length: UInt32, _ handler: @escaping (Reply) throws -> Void) {
        var f: [UInt8] = []
        Self.putString(handle, &f)
        Self.put64(offset, &f)
        Self.put32(length, &f)
        request(.read, f, handler)
    }

    /// Closes a handle; its answer is not waited for by anyone (it is read when it comes).
    func closeHandle(_ handle: [UInt8]) {
        var f: [UInt8] = []
        Self.putString(handle, &f)
        request(.close, f) { _ in }
    }

    // MARK: - The loop

    /// Sends what is queued and dispatches answers until `done()` holds.
    func drive(until done: () -> Bool) throws { try drive(until: done, hello: nil) }

    private func drive(until done: () -> Bool, hello: ((Reply) throws -> Void)?) throws {
        while !done() {
            var progressed = false
            while outboxSent < outbox.count {
                let n = outbox[outboxSent...].withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { drssh_channel_write(channel, $0.baseAddress, $0.count) }
                }
                if n == Int(LIBSSH2_ERROR_EAGAIN) { break }
                if n < 0 { throw lost(Int32(n)) }
                outboxSent += n
                progressed = true
            }
            if outboxSent == outbox.count {
                outbox.removeAll(keepingCapacity: true)
                outboxSent = 0
            }
            while true {
                let n = drssh_channel_read(channel, &readBuffer, readBuffer.count)
                if n == Int(LIBSSH2_ERROR_EAGAIN) { break }
                if n < 0 { throw lost(Int32(n)) }
                if n == 0 {
                    if libssh2_channel_eof(channel) != 0 {
                        throw ProtocolError(message: "the server closed the SFTP channel")
                    }
                    break
                }
                readBuffer.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: UInt8.self) { inbox.append(contentsOf: $0.prefix(n)) }
                }
                lastByte = waited
                progressed = true
                try dispatch(hello: hello)
                if done() { return }
            }
            if done() { return }
            if !progressed { try wait(awaitingHello: hello != nil) }
        }
    }

    private func dispatch(hello: ((Reply) throws -> Void)?) throws {
        while inbox.count - inboxStart >= 5 {
            let i = inboxStart
            let length = Int(inbox[i]) << 24 | Int(inbox[i + 1]) << 16 | Int(inbox[i + 2]) << 8 | Int(inbox[i + 3])
            guard length >= 1, length <= Self.maxPacket else {
                throw ProtocolError(message: "the server sent an SFTP packet of \(length) bytes")
            }
            guard inbox.count - inboxStart >= 4 + length else { break }
            let type = inbox[inboxStart + 4]
            var body = Reader(bytes: inbox[(inboxStart + 5)..<(inboxStart + 4 + length)])
            inboxStart += 4 + length
            if let hello, type == PacketType.version.rawValue {
                try hello(Reply(type: type, body: body))
                continue
            }
            let id = try body.uint32()
            guard let request = pending.removeValue(forKey: id) else {
                throw ProtocolError(message: "the server answered request \(id), which was not asked")
            }
            try request.handler(Reply(type: type, body: body))
        }
        if inboxStart > 1 << 16 {
            inbox.removeFirst(inboxStart)
            inboxStart = 0
        }
    }

    /// Waits for the socket as libssh2 asks, counting the time against `timeout` and `deadline`. The hello has no
    /// request id, so it is not among `pending`; it was sent when the clock started.
    private func wait(awaitingHello: Bool) throws {
        if !pending.isEmpty || awaitingHello {
            if waited - lastByte >= timeout {
                throw ProtocolError(message: "no answer from the server (timed out after \(Int(timeout)) s)")
            }
            if let oldest = pending.values.map(\.sentAt).min() ?? (awaitingHello ? 0 : nil), waited - oldest >= deadline
            {
                throw ProtocolError(
                    message: "a request was not answered within \(Int(deadline)) s (the server sends too slowly)")
            }
        }
        let directions = libssh2_session_block_directions(session)
        var events = Int16(POLLIN)
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        var pfd = pollfd(fd: socket, events: events, revents: 0)
        let start = Date()
        _ = poll(&pfd, 1, 250)
        waited += Date().timeIntervalSince(start)
    }

    private func lost(_ rc: Int32) -> ProtocolError {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        _ = libssh2_session_last_error(session, &message, &length, 0)
        let detail = message.map { String(cString: $0) } ?? "libssh2 error \(rc)"
        return ProtocolError(message: "connection lost: \(detail)")
    }
}
