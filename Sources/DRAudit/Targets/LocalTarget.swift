import DRAuditCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A folder on this machine: a mounted share or a downloaded copy of the backup storage.
///
/// Walked with directory descriptors (`openat`/`fstatat` relative to the folder being read), so neither the depth
/// nor the length of a path is bounded by PATH_MAX, and names are handled as the bytes they are (`RawName`).
/// Links, FIFOs, sockets and devices are indexed as what they are and never followed or opened.
public struct LocalTarget: StorageTarget {
    public var root: URL
    public init(root: URL) { self.root = root.standardizedFileURL }

    public var location: String { "local:\(root.path)" }

    /// Folder descriptors kept open at once on the way down; deeper ones are reopened from their parent's.
    static let openFolderLimit = 32

    public func list(_ visit: (StorageObject) throws -> Void) throws {
        // The configured folder itself may be a link (a mount point's alias); nothing below it is followed.
        let fd = open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            let why = errno == ENOTDIR || errno == ENOENT ? "is not a directory" : "cannot be opened: \(Self.error())"
            throw DRAuditError("local target \(root.path) \(why)", code: "TARGET_UNREACHABLE")
        }
        try withoutActuallyEscaping(visit) { visit in
            var walker = Walker(rootPath: root.path, visit: visit)
            defer { walker.closeAll() }
            try walker.run(rootFD: fd)
        }
    }

    private struct Frame {
        var name: [UInt8]
        /// The key prefix of the folder's entries ("" at the root).
        var key: String
        var fd: Int32
        var device: UInt
        var inode: UInt
        var folders: [[UInt8]] = []
        var next = 0
    }

    private struct Walker {
        let rootPath: String
        let visit: (StorageObject) throws -> Void
        var stack: [Frame] = []

        init(rootPath: String, visit: @escaping (StorageObject) throws -> Void) {
            self.rootPath = rootPath
            self.visit = visit
        }

        func display(_ key: String) -> String { key.isEmpty ? rootPath : rootPath + "/" + key }

        mutating func run(rootFD: Int32) throws {
            var info = stat()
            fstat(rootFD, &info)
            stack = [Frame(name: [], key: "", fd: rootFD, device: UInt(info.st_dev), inode: UInt(info.st_ino))]
            try read(0)
            while let top = stack.last {
                guard top.next < top.folders.count else {
                    if top.fd >= 0 { close(top.fd) }
                    stack.removeLast()
                    continue
                }
                let name = top.folders[top.next]
                stack[stack.count - 1].next += 1
                let parent = stack.count - 1
                try reopen(parent)
                let key = top.key.isEmpty ? RawName.key(name) : top.key + "/" + RawName.key(name)
                let fd = openat(stack[parent].fd, cString(name), Self.folderFlags)
                guard fd >= 0 else { throw failure("cannot open", key) }
                var info = stat()
                fstat(fd, &info)
                stack.append(Frame(name: name, key: key, fd: fd, device: UInt(info.st_dev), inode: UInt(info.st_ino)))
                limitOpenFolders()
                try read(stack.count - 1)
            }
        }

        static let folderFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

        /// Lists one folder: files are visited as readdir hands them out (the file system's order: holding a
        /// folder's names to sort them would cost a million strings for a million files); sub-folders are kept
        /// for later, by name only.
        mutating func read(_ index: Int) throws {
            let fd = stack[index].fd
            let prefix = stack[index].key
            guard let dir = fdopendir(dup(fd)) else { throw failure("cannot open", prefix) }
            defer { closedir(dir) }
            while true {
                errno = 0
                guard let entry = readdir(dir) else {
                    guard errno == 0 else { throw failure("cannot read", prefix) }
                    break
                }
                // The name as readdir holds it (NUL-terminated): no copy unless it is a folder kept for later.
                try withUnsafePointer(to: entry.pointee.d_name) {
                    try $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { cName in
                        let name = UnsafeBufferPointer(
                            start: UnsafeRawPointer(cName).assumingMemoryBound(to: UInt8.self), count: strlen(cName))
                        try visitEntry(fd: fd, index: index, prefix: prefix, cName: cName, name: name)
                    }
                }
            }
        }

        private mutating func visitEntry(
            fd: Int32, index: Int, prefix: String, cName: UnsafePointer<CChar>, name: UnsafeBufferPointer<UInt8>
        ) throws {
            if name.count <= 2, name.allSatisfy({ $0 == UInt8(ascii: ".") }) { return }
            let key = prefix.isEmpty ? RawName.key(name) : prefix + "/" + RawName.key(name)
            var info = stat()
            guard fstatat(fd, cName, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("cannot stat", key) }
            let mode = UInt32(info.st_mode)
            if mode & UInt32(S_IFMT) == UInt32(S_IFDIR) {
                stack[index].folders.append(Array(name))
                return
            }
            let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1_000_000) / 1000
            var special = SpecialFile(mode: mode)
            if special == .symlink {
                // The target is only looked at, never opened: a link to nothing is worth telling apart.
                var target = stat()
                if fstatat(fd, cName, &target, 0) != 0, [ENOENT, ELOOP, ENOTDIR].contains(errno) {
                    special = .danglingSymlink
                }
            }
            try visit(
                StorageObject(
                    key: key, size: Int64(info.st_size), mtime: Date(timeIntervalSince1970: mtime), special: special))
        }

        /// Keeps at most `openFolderLimit` folder descriptors open: the shallowest beyond the root is closed first.
        mutating func limitOpenFolders() {
            var open = stack.indices.filter { stack[$0].fd >= 0 }
            while open.count > LocalTarget.openFolderLimit, let first = open.dropFirst().first {
                close(stack[first].fd)
                stack[first].fd = -1
                open.removeAll { $0 == first }
            }
        }

        /// Opens a folder whose descriptor was closed, one level at a time from the nearest open ancestor, and
        /// checks that it is still the folder that was listed.
        mutating func reopen(_ index: Int) throws {
            guard stack[index].fd < 0 else { return }
            var from = index - 1
            while stack[from].fd < 0 { from -= 1 }
            var fd = stack[from].fd
            for level in (from + 1)...index {
                let next = openat(fd, cString(stack[level].name), Self.folderFlags)
                if fd != stack[from].fd { close(fd) }
                guard next >= 0 else { throw failure("cannot open", stack[level].key) }
                var info = stat()
                fstat(next, &info)
                guard UInt(info.st_dev) == stack[level].device, UInt(info.st_ino) == stack[level].inode else {
                    close(next)
                    throw DRAuditError(
                        "local target: \(display(stack[level].key)) was replaced during the scan",
                        code: "TARGET_UNREACHABLE")
                }
                fd = next
            }
            stack[index].fd = fd
        }

        func failure(_ what: String, _ key: String) -> DRAuditError {
            DRAuditError("local target: \(what) \(display(key)): \(LocalTarget.error())", code: "TARGET_UNREACHABLE")
        }

        mutating func closeAll() {
            for i in stack.indices where stack[i].fd >= 0 {
                close(stack[i].fd)
                stack[i].fd = -1
            }
        }
    }

    static func error() -> String { String(cString: strerror(errno)) }

    /// Reads a small regular file whole, walking to it one folder at a time without following links; fails when
    /// it is larger than `limit` bytes. A FIFO or device is refused, never opened for reading.
    public func read(_ key: String, limit: Int) throws -> Data {
        let display = root.path + "/" + key
        let parts = RawName.bytes(key).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard let fileName = parts.last else { throw DRAuditError("local target: cannot read \(display)") }
        var dir = open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        for part in parts.dropLast() where dir >= 0 {
            let next = openat(dir, cString(Array(part)), Walker.folderFlags)
            close(dir)
            dir = next
        }
        guard dir >= 0 else {
            throw DRAuditError("local target: cannot read \(display): \(Self.error())", code: "TARGET_UNREACHABLE")
        }
        let fd = openat(dir, cString(Array(fileName)), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        close(dir)
        guard fd >= 0 else {
            throw DRAuditError("local target: cannot read \(display): \(Self.error())", code: "TARGET_UNREACHABLE")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG) else {
            throw DRAuditError("local target: \(display) is not a regular file", code: "TARGET_UNREACHABLE")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw DRAuditError("local target: cannot read \(display): \(Self.error())", code: "TARGET_UNREACHABLE")
            }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            guard data.count <= limit else {
                throw DRAuditError("local target: \(display) is larger than \(limit) bytes")
            }
        }
        return data
    }
}

/// A NUL-terminated copy of a name's bytes, for the C calls.
private func cString(_ bytes: [UInt8]) -> [CChar] {
    bytes.map { CChar(bitPattern: $0) } + [0]
}

extension LocalTarget {
    public func stream(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int64 {
        let path = root.appendingPathComponent(key).path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            throw DRAuditError(
                "local target: cannot read \(path): \(String(cString: strerror(errno)))", code: "TARGET_UNREACHABLE")
        }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw DRAuditError(
                    "local target: reading \(path) failed: \(String(cString: strerror(errno)))",
                    code: "TARGET_UNREACHABLE")
            }
            total += Int64(n)
            guard try consume(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n)) else { break }
        }
        return total
    }
}
