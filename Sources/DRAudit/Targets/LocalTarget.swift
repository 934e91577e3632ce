import DRAuditCore
import Foundation

/// A folder on this machine: a mounted share or a downloaded copy of the backup storage.
public struct LocalTarget: StorageTarget {
    public var root: URL
    public init(root: URL) { self.root = root.standardizedFileURL }

    public var location: String { "local:\(root.path)" }

    public func list(_ visit: (StorageObject) throws -> Void) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DRAuditError("local target \(root.path) is not a directory", code: "TARGET_UNREACHABLE")
        }
        try walk(root.path, prefix: "", visit)
    }

    // opendir/readdir rather than FileManager's enumerator: it reports errors and does not follow links.
    private func walk(_ directory: String, prefix: String, _ visit: (StorageObject) throws -> Void) throws {
        guard let dir = opendir(directory) else {
            throw DRAuditError(
                "local target: cannot open \(directory): \(String(cString: strerror(errno)))",
                code: "TARGET_UNREACHABLE")
        }
        defer { closedir(dir) }
        // Entries are visited as readdir hands them out, in the file system's order: holding a folder's names to
        // sort them would cost a million strings for a million files, and the index does not need an order.
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                guard errno == 0 else {
                    throw DRAuditError(
                        "local target: cannot read \(directory): \(String(cString: strerror(errno)))",
                        code: "TARGET_UNREACHABLE")
                }
                break
            }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw DRAuditError(
                    "local target: cannot stat \(path): \(String(cString: strerror(errno)))", code: "TARGET_UNREACHABLE"
                )
            }
            let key = prefix.isEmpty ? name : prefix + "/" + name
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(path, prefix: key, visit)
            case S_IFREG:
                let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec / 1_000_000) / 1000
                try visit(StorageObject(key: key, size: Int64(info.st_size), mtime: Date(timeIntervalSince1970: mtime)))
            default:
                continue  // links, sockets and devices are not backups
            }
        }
    }

    public func read(_ key: String, limit: Int) throws -> Data {
        let url = root.appendingPathComponent(key)
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw DRAuditError("local target: cannot read \(url.path)", code: "TARGET_UNREACHABLE")
        }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: limit + 1) ?? Data()
        guard data.count <= limit else { throw DRAuditError("local target: \(url.path) is larger than \(limit) bytes") }
        return data
    }
}
