import DRAuditCore
import Foundation

/// Files that may hold Secrets: written 0600 in a 0700 folder, each through a temporary file and a rename. All of
/// a set are written before any is renamed, so a failure part way leaves the folder as it was.
enum SecureFiles {
    /// Makes `folder` (0700) or tightens an existing one to 0700. Returns whether an existing folder's mode changed.
    @discardableResult
    static func prepareFolder(_ folder: URL) throws -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DRAuditError("\(folder.path) exists and is not a folder") }
            let mode = ((try? FileManager.default.attributesOfItem(atPath: folder.path))?[.posixPermissions] as? Int)
            guard mode.map({ $0 & 0o777 }) != 0o700 else { return false }
            guard chmod(folder.path, 0o700) == 0 else {
                throw DRAuditError("cannot make \(folder.path) private (0700): \(String(cString: strerror(errno)))")
            }
            return true
        }
        let parent = folder.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: parent.path) else {
            throw DRAuditError("cannot create \(folder.path): no such folder \(parent.path)")
        }
        guard mkdir(folder.path, 0o700) == 0 else {
            throw DRAuditError("cannot create \(folder.path): \(String(cString: strerror(errno)))")
        }
        // mkdir's mode is cut by the umask; the folder must be 0700 whatever it is.
        _ = chmod(folder.path, 0o700)
        return false
    }

    /// Writes every file (name → contents) into `folder` with `mode`, replacing existing files atomically.
    static func write(_ files: [(name: String, contents: Data)], into folder: URL, mode: mode_t = 0o600) throws {
        var staged: [(temporary: String, final: String)] = []
        func discard() { for file in staged { unlink(file.temporary) } }
        for file in files {
            let final = folder.appendingPathComponent(file.name).path
            let temporary = folder.appendingPathComponent(".\(file.name).tmp-\(getpid())").path
            unlink(temporary)
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 else {
                let reason = String(cString: strerror(errno))
                discard()
                throw DRAuditError("cannot write \(final): \(reason)")
            }
            staged.append((temporary, final))
            let ok = file.contents.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += n
                }
                return fsync(fd) == 0
            }
            let reason = String(cString: strerror(errno))
            // The mode asked for, whatever the umask.
            let modeOK = fchmod(fd, mode) == 0
            close(fd)
            guard ok && modeOK else {
                discard()
                throw DRAuditError("cannot write \(final): \(reason)")
            }
        }
        for file in staged {
            guard rename(file.temporary, file.final) == 0 else {
                let reason = String(cString: strerror(errno))
                discard()
                throw DRAuditError("cannot write \(file.final): \(reason)")
            }
        }
    }
}
