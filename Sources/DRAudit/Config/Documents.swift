// libyaml's event parser, as Yams carries it (its CYaml module). Yams' own composer recurses once per nesting
// level (100,000 `[` overflow the stack) and hands aliases over unbounded (a 462-byte alias bomb then expands to
// 15 GB); `DocumentBuilder` composes from the same events iteratively, within `DocumentLimits`.
import CYaml
import DRAuditCore
import Foundation

/// Reads YAML or JSON files into `DocumentNode`s, within `DocumentLimits`, with one-line errors that name the file.
public enum Documents {
    /// A config, CR, Secret or kubeconfig: YAML (JSON read as the YAML it also is).
    public static func load(_ url: URL, what: String, limits: DocumentLimits = .document) throws -> DocumentNode {
        try read(url, name: "\(what) \(url.path)", limits: limits, streamItems: false, sniffJSON: false) { _, _ in }
    }

    /// A `kubectl get` export (a List, or one object) read an item at a time: `item` gets each item of the List's
    /// `items` as soon as it is parsed, and the document returned has them left out. Memory stays that of one item.
    /// `-o json` (it starts with `{` or `[`) is read as JSON, exactly; `-o yaml` as YAML.
    public static func loadExport(
        _ url: URL, what: String, limits: DocumentLimits = .export, item: (Int, DocumentNode) throws -> Void
    ) throws -> DocumentNode {
        try read(url, name: "\(what) \(url.path)", limits: limits, streamItems: true, sniffJSON: true, item: item)
    }

    /// An answer from the API server: JSON (or YAML, should it ever be).
    public static func parse(_ text: String, name: String, limits: DocumentLimits = .document) throws -> DocumentNode {
        var text = text
        return try text.withUTF8 { bytes in
            let source = Source(limits: limits, bytes: bytes)
            return try compose(source, name: name, streamItems: false, sniffJSON: true) { _, _ in }
        }
    }

    /// An export or List answer in memory, read as `loadExport` reads a file: each item of `items` to `item`.
    public static func parseExport(
        _ text: String, name: String, limits: DocumentLimits = .export, item: (Int, DocumentNode) throws -> Void
    ) throws -> DocumentNode {
        var text = text
        return try text.withUTF8 { bytes in
            let source = Source(limits: limits, bytes: bytes)
            return try compose(source, name: name, streamItems: true, sniffJSON: true, item: item)
        }
    }

    private static func read(
        _ url: URL, name: String, limits: DocumentLimits, streamItems: Bool, sniffJSON: Bool,
        item: (Int, DocumentNode) throws -> Void
    ) throws -> DocumentNode {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw DRAuditError("\(name): cannot read the file (\(reason))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DRAuditError("\(name): cannot read the file (\(String(cString: strerror(errno))))")
        }
        if info.st_mode & S_IFMT == S_IFDIR { throw DRAuditError("\(name): is a folder, not a file") }
        if info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) > limits.maxBytes {
            throw tooLarge(name, limits)
        }
        let source = Source(limits: limits, fd: fd)
        return try compose(source, name: name, streamItems: streamItems, sniffJSON: sniffJSON, item: item)
    }

    private static func tooLarge(_ name: String, _ limits: DocumentLimits) -> DRAuditError {
        DRAuditError("\(name): larger than \(DocumentLimits.formatBytes(limits.maxBytes)), the limit for this file")
    }

    /// What libyaml reads: a file descriptor or bytes in memory, counted against the limits.
    private final class Source {
        let limits: DocumentLimits
        let fd: Int32
        let bytes: UnsafeBufferPointer<UInt8>?
        var total = 0
        /// Bytes read since libyaml last produced an event: a scalar or comment being taken in.
        var sinceEvent = 0
        var failure: DRAuditError?
        var readErrno: Int32 = 0
        /// Bytes read ahead (to tell JSON from YAML), handed over before any others.
        var pending: [UInt8] = []

        init(limits: DocumentLimits, fd: Int32) {
            self.limits = limits
            self.fd = fd
            self.bytes = nil
        }

        init(limits: DocumentLimits, bytes: UnsafeBufferPointer<UInt8>) {
            self.limits = limits
            self.fd = -1
            self.bytes = bytes
        }

        /// Fills libyaml's buffer; false on a read error or a limit passed (then `failure` says which).
        func fill(_ buffer: UnsafeMutablePointer<UInt8>, _ size: Int, _ read: inout Int) -> Bool {
            if !pending.isEmpty {
                read = min(size, pending.count)
                pending.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: read) }
                pending.removeFirst(read)
                return true
            }
            if let bytes {
                read = min(size, bytes.count - total)
                if read > 0 { buffer.update(from: bytes.baseAddress! + total, count: read) }
            } else {
                repeat { read = Foundation.read(fd, buffer, size) } while read < 0 && errno == EINTR
                if read < 0 {
                    readErrno = errno
                    return false
                }
            }
            total += read
            sinceEvent += read
            if total > limits.maxBytes {
                failure = DRAuditError("larger than \(DocumentLimits.formatBytes(limits.maxBytes))")
                return false
            }
            if sinceEvent > limits.maxValueBytes {
                failure = DRAuditError(
                    "a single value or comment is larger than \(DocumentLimits.formatBytes(limits.maxValueBytes))")
                return false
            }
            return true
        }

        /// The next chunk (nil at the end), for the JSON reader; throws on a read error or a limit passed.
        func chunk() throws -> [UInt8]? {
            if !pending.isEmpty {
                defer { pending = [] }
                return pending
            }
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            var count = 0
            let ok = chunk.withUnsafeMutableBufferPointer { fill($0.baseAddress!, $0.count, &count) }
            guard ok else { throw SourceFailure() }
            chunk.removeLast(chunk.count - count)
            return count == 0 ? nil : chunk
        }

        /// The first byte that is not white space (or a byte order mark), read ahead into `pending`.
        func firstSignificantByte() throws -> UInt8? {
            var offset = 0
            while true {
                while offset < pending.count {
                    let byte = pending[offset]
                    if ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains(byte) { return byte }
                    offset += 1
                }
                let before = pending
                pending = []
                guard let more = try chunk() else {
                    pending = before
                    return nil
                }
                pending = before + more
            }
        }
    }

    private struct SourceFailure: Error {}

    private static func compose(
        _ source: Source, name: String, streamItems: Bool, sniffJSON: Bool, item: (Int, DocumentNode) throws -> Void
    ) throws -> DocumentNode {
        if sniffJSON {
            let first: UInt8?
            do { first = try source.firstSignificantByte() } catch { throw failure(nil, source, name: name) }
            if let first, JSONEvents.startsJSON(first) {
                return try composeJSON(source, name: name, streamItems: streamItems, item: item)
            }
        }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { throw DRAuditError("\(name): cannot start the YAML parser") }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        let context = Unmanaged.passUnretained(source).toOpaque()
        yaml_parser_set_input(
            parser,
            { data, buffer, size, read in
                let source = Unmanaged<Source>.fromOpaque(data!).takeUnretainedValue()
                var count = 0
                let ok = source.fill(buffer!, size, &count)
                read!.pointee = count
                return ok ? 1 : 0
            }, context)

        var builder = DocumentBuilder(limits: source.limits, streamItems: streamItems)
        var event = yaml_event_t()
        var documents = 0
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else { throw failure(parser, source, name: name) }
            defer { yaml_event_delete(&event) }
            source.sinceEvent = 0
            let mark = event.start_mark
            func string(_ pointer: UnsafeMutablePointer<UInt8>?) -> String? {
                pointer.map { String(cString: $0) }
            }
            let built: DocumentBuilder.Event
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return builder.root ?? .null
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw DRAuditError("\(name): holds more than one YAML document (line \(mark.line + 1))")
                }
                continue
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(
                    decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
                built = .scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, anchor: string(scalar.anchor))
            case YAML_ALIAS_EVENT:
                built = .alias(string(event.data.alias.anchor) ?? "")
            case YAML_SEQUENCE_START_EVENT:
                built = .sequenceStart(anchor: string(event.data.sequence_start.anchor))
            case YAML_MAPPING_START_EVENT:
                built = .mappingStart(anchor: string(event.data.mapping_start.anchor))
            case YAML_SEQUENCE_END_EVENT:
                built = .sequenceEnd
            case YAML_MAPPING_END_EVENT:
                built = .mappingEnd
            default:
                continue
            }
            let produced: (index: Int, item: DocumentNode)?
            do { produced = try builder.add(built) } catch {
                throw DRAuditError("\(name): \(error.message) (line \(mark.line + 1), column \(mark.column + 1))")
            }
            if let produced {
                do { try item(produced.index, produced.item) } catch let error as DRAuditError { throw error } catch {
                    throw DRAuditError("\(name): \(DRAuditError.oneLine(error))")
                }
            }
        }
    }

    /// The JSON path: the same builder, its events from `JSONEvents`.
    private static func composeJSON(
        _ source: Source, name: String, streamItems: Bool, item: (Int, DocumentNode) throws -> Void
    ) throws -> DocumentNode {
        var events = JSONEvents(maxStringBytes: source.limits.maxValueBytes) { try source.chunk() }
        var builder = DocumentBuilder(limits: source.limits, streamItems: streamItems)
        while true {
            let event: DocumentBuilder.Event?
            do { event = try events.next() } catch let error as DocumentError {
                throw DRAuditError("\(name): \(error.message) (line \(events.line), column \(events.column))")
            } catch {
                throw failure(nil, source, name: name)
            }
            source.sinceEvent = 0
            guard let event else { return builder.root ?? .null }
            let produced: (index: Int, item: DocumentNode)?
            do { produced = try builder.add(event) } catch {
                throw DRAuditError("\(name): \(error.message) (line \(events.line), column \(events.column))")
            }
            if let produced {
                do { try item(produced.index, produced.item) } catch let error as DRAuditError { throw error } catch {
                    throw DRAuditError("\(name): \(DRAuditError.oneLine(error))")
                }
            }
        }
    }

    /// libyaml's error, or the limit the input passed, as one line. Never the document's text: it may be a Secret.
    private static func failure(_ parser: UnsafeMutablePointer<yaml_parser_t>?, _ source: Source, name: String)
        -> DRAuditError
    {
        if let failure = source.failure {
            return source.total > source.limits.maxBytes
                ? tooLarge(name, source.limits) : DRAuditError("\(name): \(failure.message)")
        }
        if source.readErrno != 0 {
            return DRAuditError("\(name): cannot read the file (\(String(cString: strerror(source.readErrno))))")
        }
        guard let p = parser?.pointee else { return DRAuditError("\(name): cannot read the file") }
        let problem = p.problem.map { String(cString: $0) } ?? "unreadable document"
        if p.error == YAML_READER_ERROR {
            if problem.contains("UTF-8") {
                return DRAuditError("\(name): not UTF-8 text (\(problem) at byte \(p.problem_offset))")
            }
            return DRAuditError("\(name): malformed YAML/JSON: \(problem) at byte \(p.problem_offset)")
        }
        var text = "\(problem) at line \(p.problem_mark.line + 1), column \(p.problem_mark.column + 1)"
        if let context = p.context { text += " (\(String(cString: context)))" }
        return DRAuditError("\(name): malformed YAML/JSON: \(text)")
    }
}

extension ClusterExport {
    /// The backup CRs of an export file, read an item at a time (`Documents.loadExport`) and handed to `each`:
    /// a 100,000-CR export costs one item's document at a time.
    static func read(_ url: URL, role: Role, each: (ClusterRecord) throws -> Void) throws {
        let rest = try Documents.loadExport(url, what: "\(role.rawValue) backups export") { index, item in
            try each(try record(item, index: index, role: role))
        }
        // What is left: a List's other keys (its items already read), or a single object.
        do { try records(rest, role: role).forEach(each) } catch let error as DocumentError {
            throw DRAuditError("\(role.rawValue) backups export \(url.path): \(error.message)")
        }
    }
}
