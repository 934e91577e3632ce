import CLibSSH2
import DRAuditCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An SFTP server reached through libssh2. The host key is always verified (known_hosts or a pinned
/// SHA256 fingerprint) before any credential is sent.
public final class SFTPTarget: StorageTarget, @unchecked Sendable {
    public struct Settings: Sendable {
        public var host: String
        public var port: Int = 22
        public var path: String
        public var credentials: BackupCredentials
        /// A known_hosts file (OpenSSH format; hashed entries and `[host]:port` understood).
        public var knownHosts: String?
        /// `SHA256:<base64>` as `ssh-keygen -lf` prints it; when set, known_hosts is not consulted.
        public var hostKeyFingerprint: String?
        /// Connect and per-operation timeout.
        public var timeout: TimeInterval = 30
        /// Connection attempts before giving up (auth and host key failures are never retried).
        public var connectAttempts = 3
        /// Folders listed at once (each with several READDIR requests queued), and files read at once.
        public var parallel = 8

        public init(host: String, port: Int = 22, path: String, credentials: BackupCredentials) {
            self.host = host
            self.port = port
            self.path = path
            self.credentials = credentials
        }
    }

    let settings: Settings
    private var socketFD: Int32 = -1
    private var session: OpaquePointer?
    private var sftp: SFTPChannel?

    public init(_ settings: Settings) {
        self.settings = settings
        Self.initializeLibrary
    }

    deinit { disconnect() }

    private static let initializeLibrary: Void = { _ = libssh2_init(0) }()

    public var location: String {
        let host = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        return "sftp://\(host):\(settings.port)\(settings.path.hasPrefix("/") ? "" : "/")\(settings.path)"
    }

    private var root: String {
        var p = settings.path.isEmpty ? "." : settings.path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    // MARK: - StorageTarget

    public func list(_ visit: (StorageObject) throws -> Void) throws {
        try connectIfNeeded()
        try channelErrors("listing \(root)") { try listTree(visit) }
    }

    public func read(_ key: String, limit: Int) throws -> Data {
        var data = Data()
        try read([key], limit: limit) { data = $1 }
        return data
    }

    /// Reads the files `parallel` at a time over the one channel (OPEN, READ until EOF, CLOSE each).
    public func read(_ keys: [String], limit: Int, _ each: (String, Data) throws -> Void) throws {
        try connectIfNeeded()
        try channelErrors("reading") { try withoutActuallyEscaping(each) { try readFiles(keys, limit: limit, $0) } }
    }

    /// Turns the channel's protocol errors into target errors (SFTP status errors already are). After any
    /// failure the connection is dropped: answers to the requests still in flight would find no one.
    private func channelErrors<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SFTPChannel.ProtocolError {
            abandonConnection()
            throw DRAuditError("\(location): \(what) failed: \(error.message)", code: "TARGET_UNREACHABLE")
        } catch {
            abandonConnection()
            throw error
        }
    }

    // MARK: - Listing

    /// READDIR requests queued at once on one folder: grows 1, 2, 4 … up to this while answers come full, so a
    /// small folder costs no more requests than before and a large one has many in flight.
    static let readdirQueue = 16

    /// Longest path a listing follows: many times any real server's PATH_MAX (4096), so only a server that makes up
    /// folders without end reaches it.
    static let longestPath = 1 << 16

    private final class Folder {
        let path: [UInt8]
        let key: String
        var handle: [UInt8] = []
        var inFlight = 0
        var window = 1
        var atEnd = false
        /// Hashes of the names seen, so a server that repeats a batch instead of moving on fails the scan.
        var seen: Set<Int> = []
        init(path: [UInt8], key: String) {
            self.path = path
            self.key = key
        }
    }

    /// Lists the tree with `parallel` folders open at once, each with up to `readdirQueue` READDIRs in flight.
    /// Sizes, times and types come from the READDIR answers (lstat's: links are not followed); a link is STATed
    /// only to tell a dangling one.
    private func listTree(_ visit: (StorageObject) throws -> Void) throws {
        guard let channel = sftp else { return }
        try withoutActuallyEscaping(visit) { visit in
            // Nothing that holds `visit` may outlive this block, not even after a failure.
            defer { channel.abandon() }
            var waiting = [Folder(path: Array(root.utf8), key: "")]
            var open = 0
            var failure: Error?
            func display(_ folder: Folder) -> String { RawName.key(folder.path) }
            func statusError(_ reply: SFTPChannel.Reply, _ what: String) -> Error {
                let status = reply.status ?? (SFTPChannel.Status.badMessage.rawValue, "")
                return self.statusError(what, code: status.code)
            }
            func startMore() {
                while open < max(1, settings.parallel), let folder = waiting.popLast() {
                    open += 1
                    channel.opendir(folder.path) { reply in
                        guard reply.type == SFTPChannel.PacketType.handle.rawValue else {
                            throw statusError(reply, "cannot open directory \(display(folder))")
                        }
                        var body = reply.body
                        folder.handle = Array(try body.string())
                        queueReads(folder)
                    }
                }
            }
            func queueReads(_ folder: Folder) {
                while !folder.atEnd && folder.inFlight < folder.window {
                    folder.inFlight += 1
                    channel.readdir(folder.handle) { reply in try answered(folder, reply) }
                }
            }
            func answered(_ folder: Folder, _ reply: SFTPChannel.Reply) throws {
                folder.inFlight -= 1
                if reply.type == SFTPChannel.PacketType.name.rawValue {
                    var body = reply.body
                    let count = try body.uint32()
                    guard Int(count) <= body.bytes.count / 13 else {
                        throw SFTPChannel.ProtocolError(message: "the server sent a malformed READDIR answer")
                    }
                    for _ in 0..<count {
                        let name = try body.string()
                        _ = try body.string()  // the long name (ls -l)
                        let attributes = try body.attributes()
                        try entry(folder, name, attributes)
                    }
                    folder.window = min(Self.readdirQueue, folder.window * 2)
                } else if reply.status?.code == SFTPChannel.Status.eof.rawValue {
                    folder.atEnd = true
                } else {
                    throw statusError(reply, "listing \(display(folder))")
                }
                if folder.atEnd {
                    if folder.inFlight == 0 {
                        channel.closeHandle(folder.handle)
                        open -= 1
                        startMore()
                    }
                } else {
                    queueReads(folder)
                }
            }
            func entry(_ folder: Folder, _ name: ArraySlice<UInt8>, _ attributes: SFTPChannel.Attributes) throws {
                if name.count <= 2, name.allSatisfy({ $0 == UInt8(ascii: ".") }), !name.isEmpty { return }
                // What a file system cannot hold would make the walk go round: `a/` listed again as `a//`.
                guard !name.isEmpty, !name.contains(UInt8(ascii: "/")), !name.contains(0) else {
                    throw SFTPChannel.ProtocolError(
                        message: "the server sent the name \(RawName.key(name).debugDescription) in \(display(folder)), "
                            + "which no file system holds")
                }
                guard folder.seen.insert(name.hashValue).inserted else {
                    throw SFTPChannel.ProtocolError(
                        message: "the server sent \(RawName.key(name).debugDescription) twice in \(display(folder)): "
                            + "its listing does not move on")
                }
                guard folder.path.count + name.count < Self.longestPath else {
                    throw SFTPChannel.ProtocolError(
                        message: "a path under \(display(folder)) is longer than \(Self.longestPath) bytes")
                }
                let key = folder.key.isEmpty ? RawName.key(name) : folder.key + "/" + RawName.key(name)
                let mode = attributes.permissions ?? 0
                if attributes.permissions != nil, mode & 0o170000 == 0o040000 {
                    waiting.append(Folder(path: folder.path + [UInt8(ascii: "/")] + name, key: key))
                    startMore()
                    return
                }
                var object = StorageObject(
                    key: key, size: attributes.size ?? 0,
                    mtime: attributes.mtime.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                    special: attributes.permissions == nil ? .other : SpecialFile(mode: mode))
                guard object.special == .symlink else { return try visit(object) }
                // The link's target is looked at (STAT follows it), never opened.
                channel.stat(folder.path + [UInt8(ascii: "/")] + name) { reply in
                    if reply.status?.code == SFTPChannel.Status.noSuchFile.rawValue {
                        object.special = .danglingSymlink
                    }
                    try visit(object)
                }
            }
            startMore()
            do {
                try channel.drive(until: { open == 0 && waiting.isEmpty && channel.inFlight == 0 })
            } catch {
                failure = error
            }
            if let failure { throw failure }
        }
    }

    // MARK: - Reading

    private final class OpenFile {
        let key: String
        let path: [UInt8]
        var handle: [UInt8] = []
        var data = Data()
        init(key: String, path: [UInt8]) {
            self.key = key
            self.path = path
        }
    }

    /// Bytes asked for by one READ.
    static let readSize: UInt32 = 64 * 1024

    private func readFiles(_ keys: [String], limit: Int, _ each: @escaping (String, Data) throws -> Void) throws {
        guard let channel = sftp else { return }
        defer { channel.abandon() }
        var waiting = Array(keys.reversed())
        var open = 0
        let rootBytes = Array(root.utf8)
        func startMore() {
            while open < max(1, settings.parallel), let key = waiting.popLast() {
                open += 1
                let file = OpenFile(key: key, path: rootBytes + [UInt8(ascii: "/")] + RawName.bytes(key))
                channel.openForReading(file.path) { reply in
                    guard reply.type == SFTPChannel.PacketType.handle.rawValue else {
                        throw self.statusError(
                            "cannot open \(self.root)/\(key)",
                            code: reply.status?.code ?? SFTPChannel.Status.badMessage.rawValue)
                    }
                    var body = reply.body
                    file.handle = Array(try body.string())
                    readNext(file)
                }
            }
        }
        func readNext(_ file: OpenFile) {
            channel.read(file.handle, offset: UInt64(file.data.count), length: Self.readSize) { reply in
                if reply.type == SFTPChannel.PacketType.data.rawValue {
                    var body = reply.body
                    file.data.append(contentsOf: try body.string())
                    guard file.data.count <= limit else {
                        throw DRAuditError("\(self.location): \(self.root)/\(file.key) is larger than \(limit) bytes")
                    }
                    return readNext(file)
                }
                guard reply.status?.code == SFTPChannel.Status.eof.rawValue else {
                    throw self.statusError(
                        "reading \(self.root)/\(file.key)",
                        code: reply.status?.code ?? SFTPChannel.Status.badMessage.rawValue)
                }
                channel.closeHandle(file.handle)
                open -= 1
                try each(file.key, file.data)
                startMore()
            }
        }
        startMore()
        try channel.drive(until: { open == 0 && waiting.isEmpty && channel.inFlight == 0 })
    }

    private func statusError(_ what: String, code: UInt32) -> DRAuditError {
        switch SFTPChannel.Status(rawValue: code) {
        case .noSuchFile?:
            return DRAuditError("\(location): \(what): no such file or directory", code: "TARGET_UNREACHABLE")
        case .permissionDenied?:
            return DRAuditError("\(location): \(what): permission denied", code: "TARGET_UNREACHABLE")
        default:
            return DRAuditError("\(location): \(what): SFTP status \(code)", code: "TARGET_UNREACHABLE")
        }
    }

    // MARK: - Connection

    private func connectIfNeeded() throws {
        if sftp != nil { return }
        var lastError: DRAuditError?
        for attempt in 1...max(1, settings.connectAttempts) {
            do {
                try connect()
                return
            } catch let error as DRAuditError {
                disconnect()
                // Only the network is worth another try; a wrong key or password stays wrong.
                guard error.code == "TARGET_UNREACHABLE" else { throw error }
                lastError = error
                if attempt < settings.connectAttempts { usleep(useconds_t(250_000 * attempt)) }
            }
        }
        throw lastError!
    }

    private func connect() throws {
        socketFD = try openSocket()
        guard let session = drssh_session_init() else {
            throw DRAuditError("\(location): libssh2 could not start a session")
        }
        self.session = session
        libssh2_session_set_timeout(session, Int(settings.timeout * 1000))
        // OpenSSH's preference, so a key recorded by `ssh` on first contact is the one offered.
        _ = libssh2_session_method_pref(
            session, LIBSSH2_METHOD_HOSTKEY,
            "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa")
        let login = SSHLogin(session: session, socket: socketFD, timeout: settings.timeout)
        do {
            let rc = try login.run("SSH handshake") { libssh2_session_handshake(session, socketFD) }
            if rc != 0 { throw sessionError("SSH handshake failed", rc: rc, code: "TARGET_UNREACHABLE") }
            try verifyHostKey(session)
            try authenticate(session, login)
            sftp = try openChannel(session, login)
        } catch let error as SSHLogin.Timeout {
            throw DRAuditError("\(location): \(error.message)", code: "TARGET_UNREACHABLE")
        }
    }

    private func openChannel(_ session: OpaquePointer, _ login: SSHLogin) throws -> SFTPChannel {
        guard
            let channel = try login.run(
                "opening a session channel",
                {
                    drssh_channel_open_session(session, SFTPChannel.window)
                })
        else {
            throw sessionError(
                "the server refused a session channel", rc: libssh2_session_last_errno(session),
                code: "TARGET_UNREACHABLE")
        }
        let rc = try login.run("starting the SFTP subsystem") { drssh_channel_subsystem(channel, "sftp") }
        guard rc == 0 else {
            libssh2_channel_free(channel)
            throw sessionError("the server refused the SFTP subsystem", rc: rc, code: "TARGET_UNREACHABLE")
        }
        do {
            return try SFTPChannel(
                session: session, channel: channel, socket: socketFD, timeout: settings.timeout, location: location)
        } catch let error as SFTPChannel.ProtocolError {
            throw sessionError(error.message, rc: libssh2_session_last_errno(session), code: "TARGET_UNREACHABLE")
        }
    }

    private func openSocket() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(settings.host, String(settings.port), &hints, &result)
        guard gai == 0, let first = result else {
            throw DRAuditError(
                "\(location): cannot resolve \(settings.host): \(String(cString: gai_strerror(gai)))",
                code: "TARGET_UNREACHABLE")
        }
        defer { freeaddrinfo(result) }
        var lastError = "no address"
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            info = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 {
                lastError = String(cString: strerror(errno))
                continue
            }
            let flags = fcntl(fd, F_GETFL, 0)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var rc = Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            if rc != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, Int32(settings.timeout * 1000))
                if ready == 1 {
                    var soError: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                    rc = soError == 0 ? 0 : -1
                    if soError != 0 { errno = soError }
                } else {
                    rc = -1
                    errno = ready == 0 ? ETIMEDOUT : errno
                }
            }
            if rc == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                // A listing is a chain of small request/answer exchanges; with Nagle's algorithm a request written
                // right after a window adjustment waits for a delayed ACK (tens of ms, many times per large folder).
                var on: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw DRAuditError("\(location): cannot connect: \(lastError)", code: "TARGET_UNREACHABLE")
    }

    /// `SHA256:<base64 without padding>` of the server's host key, as OpenSSH prints it.
    static func fingerprint(_ session: OpaquePointer) -> String? {
        guard let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return nil }
        let bytes = Data(bytes: hash, count: 32)
        return "SHA256:" + bytes.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    private func verifyHostKey(_ session: OpaquePointer) throws {
        guard let offered = Self.fingerprint(session) else {
            throw DRAuditError("\(location): the server offered no usable host key", code: "TARGET_UNTRUSTED")
        }
        if let pinned = settings.hostKeyFingerprint {
            let want = pinned.hasPrefix("SHA256:") ? pinned : "SHA256:" + pinned
            guard want.replacingOccurrences(of: "=", with: "") == offered else {
                throw DRAuditError(
                    "\(location): host key \(offered) does not match the pinned hostKeyFingerprint \(want); refusing to connect",
                    code: "TARGET_UNTRUSTED")
            }
            return
        }
        let file = settings.knownHosts ?? (NSHomeDirectory() + "/.ssh/known_hosts")
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw DRAuditError(
                "\(location): known_hosts file \(file) is missing or unreadable; add the host key (offered \(offered)) or pin hostKeyFingerprint",
                code: "TARGET_UNTRUSTED")
        }
        guard let hosts = libssh2_knownhost_init(session) else {
            throw DRAuditError("\(location): libssh2 known-hosts init failed")
        }
        defer { libssh2_knownhost_free(hosts) }
        if drssh_knownhost_read(hosts, file) < 0 {
            throw DRAuditError("\(location): known_hosts file \(file) could not be parsed", code: "TARGET_UNTRUSTED")
        }
        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &length, &type) else {
            throw DRAuditError("\(location): the server offered no usable host key", code: "TARGET_UNTRUSTED")
        }
        var found: UnsafeMutablePointer<libssh2_knownhost>?
        // OpenSSH's rule: a non-22 port is known only as `[host]:port`. Given a port, libssh2 would
        // also accept a plain `host` entry (port 22's key), so the name is built here and no port passed.
        let name = settings.port == 22 ? settings.host : "[\(settings.host)]:\(settings.port)"
        let check = libssh2_knownhost_checkp(hosts, name, -1, key, length, drssh_knownhost_typemask(type), &found)
        switch check {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw DRAuditError(
                "\(location): HOST KEY CHANGED: the server offered \(offered), which does not match \(file); refusing to connect",
                code: "TARGET_UNTRUSTED")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            throw DRAuditError(
                "\(location): host key \(offered) is not in \(file); verify it and add it (ssh-keyscan -p \(settings.port) \(settings.host)) or pin hostKeyFingerprint",
                code: "TARGET_UNTRUSTED")
        default:
            throw DRAuditError("\(location): host key check against \(file) failed", code: "TARGET_UNTRUSTED")
        }
    }

    private func authenticate(_ session: OpaquePointer, _ login: SSHLogin) throws {
        let creds = settings.credentials
        guard let user = creds.username else {
            throw DRAuditError("\(location): the backup Secret has no username", code: "TARGET_AUTH_FAILED")
        }
        var rc: Int32 = LIBSSH2_ERROR_AUTHENTICATION_FAILED
        if let key = creds.privateKey {
            rc = try login.run("authentication") {
                key.withCString { keyPointer in
                    libssh2_userauth_publickey_frommemory(
                        session, user, user.utf8.count, nil, 0, keyPointer, key.utf8.count, nil)
                }
            }
        }
        if rc != 0, let password = creds.password {
            rc = try login.run("authentication") { drssh_userauth_password(session, user, password) }
        }
        guard rc == 0 else {
            if rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED
                || rc == LIBSSH2_ERROR_FILE
            {
                throw DRAuditError(
                    "\(location): authentication failed for the backup Secret's user (wrong password or key)",
                    code: "TARGET_AUTH_FAILED")
            }
            throw sessionError("authentication failed", rc: rc, code: "TARGET_AUTH_FAILED")
        }
    }

    /// Drops a connection in an unknown state without talking to the server again (it may be gone, or slow).
    private func abandonConnection() {
        if socketFD >= 0 { shutdown(socketFD, Int32(SHUT_RDWR)) }
        disconnect()
    }

    private func disconnect() {
        sftp?.close()
        sftp = nil
        if let session {
            _ = drssh_session_disconnect(session, "dr-audit done")
            libssh2_session_free(session)
        }
        session = nil
        if socketFD >= 0 { close(socketFD) }
        socketFD = -1
    }

    // MARK: - Errors

    private func sessionError(_ what: String, rc: Int32, code: String) -> DRAuditError {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        if let session { _ = libssh2_session_last_error(session, &message, &length, 0) }
        let detail = message.map { String(cString: $0) } ?? "libssh2 error \(rc)"
        let timeout = rc == LIBSSH2_ERROR_TIMEOUT ? " (timed out after \(Int(settings.timeout)) s)" : ""
        return DRAuditError("\(location): \(what): \(detail)\(timeout)", code: code)
    }
}

extension SFTPTarget {
    /// READs kept in flight on one streamed file: 16 × 64 KiB, a megabyte on the way.
    static let streamWindow = 16

    /// Streams a file over the SFTP channel with `streamWindow` READs in flight, handing the bytes over in order as
    /// they come (answers that arrive early wait in a buffer of at most the window).
    public func stream(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int64 {
        try connectIfNeeded()
        return try channelErrors("reading") {
            try withoutActuallyEscaping(consume) { try streamFile(key, $0) }
        }
    }

    private func streamFile(_ key: String, _ consume: @escaping (UnsafeRawBufferPointer) throws -> Bool) throws
        -> Int64
    {
        guard let channel = sftp else { return 0 }
        defer { channel.abandon() }
        let path = Array(root.utf8) + [UInt8(ascii: "/")] + RawName.bytes(key)
        var handle: [UInt8]?
        var requested: UInt64 = 0  // the next offset to ask for
        var delivered: UInt64 = 0  // bytes handed to `consume`
        var early: [UInt64: ArraySlice<UInt8>] = [:]  // answers ahead of `delivered`
        var outstanding = 0
        var end: UInt64?  // where the file ended (an EOF answer's offset)
        var stopped = false
        var closed = false
        func ask(_ offset: UInt64, _ length: UInt32) {
            outstanding += 1
            channel.read(handle!, offset: offset, length: length) { reply in
                outstanding -= 1
                guard !stopped else { return }
                if reply.type == SFTPChannel.PacketType.data.rawValue {
                    var body = reply.body
                    let data = try body.string()
                    if data.isEmpty {  // not what servers send; taken as the end, lest the stream wait for nothing
                        end = min(end ?? offset, offset)
                        return askMore()
                    }
                    if data.count < Int(length) {
                        // A short answer: ask for the rest of the range.
                        ask(offset + UInt64(data.count), length - UInt32(data.count))
                    }
                    early[offset] = data
                    while let chunk = early.removeValue(forKey: delivered), !stopped {
                        delivered += UInt64(chunk.count)
                        let more = try chunk.withUnsafeBytes { try consume($0) }
                        if !more { stopped = true }
                    }
                } else if reply.status?.code == SFTPChannel.Status.eof.rawValue {
                    end = min(end ?? offset, offset)
                } else {
                    throw self.statusError(
                        "reading \(self.root)/\(key) after \(delivered) bytes",
                        code: reply.status?.code ?? SFTPChannel.Status.badMessage.rawValue)
                }
                askMore()
            }
        }
        func askMore() {
            while !stopped && end == nil && outstanding < Self.streamWindow {
                ask(requested, Self.readSize)
                requested += UInt64(Self.readSize)
            }
        }
        channel.openForReading(path) { reply in
            guard reply.type == SFTPChannel.PacketType.handle.rawValue else {
                throw self.statusError(
                    "cannot open \(self.root)/\(key)",
                    code: reply.status?.code ?? SFTPChannel.Status.badMessage.rawValue)
            }
            var body = reply.body
            handle = Array(try body.string())
            askMore()
        }
        try channel.drive(until: {
            if handle != nil && outstanding == 0 && (stopped || end.map { delivered >= $0 } == true) && !closed {
                channel.closeHandle(handle!)
                closed = true
            }
            return closed && channel.inFlight == 0
        })
        return Int64(delivered)
    }
}
