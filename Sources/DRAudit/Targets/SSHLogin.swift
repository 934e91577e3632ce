import CLibSSH2
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the steps of an SSH login (handshake, authentication, opening the SFTP channel) on a non-blocking
/// libssh2 session against one deadline for the whole login.
///
/// libssh2's own timeout restarts for every packet it waits for, so a server that sends a byte a second could hold a
/// blocking login for many minutes; a nightly job must give up instead.
struct SSHLogin {
    struct Timeout: Error {
        let message: String
    }

    let session: OpaquePointer
    let socket: Int32
    /// Longest silence from the server.
    let timeout: TimeInterval
    /// Longest time for the whole login.
    let limit: TimeInterval
    private let started = Date()

    init(session: OpaquePointer, socket: Int32, timeout: TimeInterval) {
        self.session = session
        self.socket = socket
        self.timeout = timeout
        limit = 4 * max(1, timeout)
        libssh2_session_set_blocking(session, 0)
    }

    /// Repeats `call` while libssh2 says it would block, waiting on the socket in between; returns its final code.
    func run(_ step: String, _ call: () -> Int32) throws -> Int32 {
        while true {
            let rc = call()
            guard rc == LIBSSH2_ERROR_EAGAIN else { return rc }
            try wait(step)
        }
    }

    /// As `run`, for calls that answer with a pointer (nil and `EAGAIN` as the session's last error: not yet).
    func run<T>(_ step: String, _ call: () -> T?) throws -> T? {
        while true {
            if let value = call() { return value }
            guard libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN else { return nil }
            try wait(step)
        }
    }

    private func wait(_ step: String) throws {
        let left = limit - Date().timeIntervalSince(started)
        guard left > 0 else {
            throw Timeout(
                message: "\(step) did not finish within \(Int(limit)) s (the server sends too slowly)")
        }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        var pfd = pollfd(fd: socket, events: events, revents: 0)
        let wait = min(left, timeout)
        let ready = poll(&pfd, 1, Int32(wait * 1000))
        if ready == 0 && wait >= timeout {
            throw Timeout(message: "\(step): no answer from the server (timed out after \(Int(timeout)) s)")
        }
    }
}
