import Foundation

#if canImport(Glibc)
    import Glibc
    private let systemWrite = Glibc.write
#else
    import Darwin
    private let systemWrite = Darwin.write
#endif

/// Standard output with every write checked: `restore-plan > /dev/full` or `pairs --format json` onto a full disk
/// must not exit 0 with a truncated plan. Text is buffered (64 KiB) and written with write(2); the first failure is
/// kept, later text dropped, and `finish()` reports it.
public enum StandardOutput {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var buffer: [UInt8] = []
    nonisolated(unsafe) private static var failure: Int32?
    static let bufferSize = 64 << 10

    public static func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        guard failure == nil else { return }
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= bufferSize { flushLocked() }
    }

    /// Writes what is buffered; throws a one-line error when any write to standard output failed.
    public static func finish() throws {
        lock.lock()
        defer { lock.unlock() }
        flushLocked()
        if let failure {
            throw DRAuditError("cannot write to standard output: \(String(cString: strerror(failure)))")
        }
    }

    private static func flushLocked() {
        defer { buffer.removeAll(keepingCapacity: true) }
        guard failure == nil else { return }
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = systemWrite(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
    }
}
