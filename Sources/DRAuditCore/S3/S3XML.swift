import CLibXML2
import Foundation

/// S3's XML answers: ListObjectsV2 pages and error bodies.
public enum S3XML {
    public struct Page: Sendable, Equatable {
        public var objects: [(key: String, size: Int64, lastModified: Date?)]
        public var isTruncated: Bool
        public var nextContinuationToken: String?

        public static func == (a: Page, b: Page) -> Bool {
            a.isTruncated == b.isTruncated && a.nextContinuationToken == b.nextContinuationToken
                && a.objects.map(\.key) == b.objects.map(\.key) && a.objects.map(\.size) == b.objects.map(\.size)
        }
    }

    public struct ErrorBody: Sendable, Equatable {
        public var code: String
        public var message: String?
        public init(code: String, message: String?) {
            self.code = code
            self.message = message
        }
    }

    public struct XMLError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public static func parseList(_ data: Data) throws -> Page {
        var page = Page(objects: [], isTruncated: false, nextContinuationToken: nil)
        var key: String?
        var size: Int64?
        var modified: Date?
        var failure: XMLError?
        var urlEncoded = false
        let root = try SAXReader.read(
            data,
            capturing: { path in
                switch path.count {
                case 2:
                    return path[1] == "IsTruncated" || path[1] == "NextContinuationToken" || path[1] == "EncodingType"
                case 3:
                    return path[1] == "Contents" && (path[2] == "Key" || path[2] == "Size" || path[2] == "LastModified")
                default: return false
                }
            },
            ended: { path, text in
                guard failure == nil, (2...3).contains(path.count), path[0] == "ListBucketResult" else { return }
                switch (path[1], path.count == 3 ? path[2] : "") {
                case ("Contents", "Key"): key = text
                case ("Contents", "Size"): size = text.flatMap { Int64(trimmed($0)) }
                case ("Contents", "LastModified"): modified = text.flatMap { UTC.parseRFC3339(trimmed($0)) }
                case ("Contents", ""):
                    guard let k = key, !k.isEmpty, let s = size, s >= 0 else {
                        failure = XMLError(description: "a Contents entry lacks Key or Size")
                        return
                    }
                    page.objects.append((k, s, modified))
                    key = nil
                    size = nil
                    modified = nil
                case ("IsTruncated", ""): page.isTruncated = text.map(trimmed) == "true"
                case ("NextContinuationToken", ""): page.nextContinuationToken = text
                case ("EncodingType", ""): urlEncoded = text.map(trimmed) == "url"
                default: break
                }
            })
        guard root == "ListBucketResult" else {
            throw XMLError(description: "not a ListBucketResult (root \(root))")
        }
        if let failure { throw failure }
        if page.isTruncated && (page.nextContinuationToken ?? "").isEmpty {
            throw XMLError(description: "IsTruncated without NextContinuationToken")
        }
        if urlEncoded {
            for i in page.objects.indices {
                guard let key = urlDecoded(page.objects[i].key) else {
                    throw XMLError(description: "a url-encoded Key is malformed")
                }
                page.objects[i].key = key
            }
        }
        return page
    }

    /// A key as `encoding-type=url` writes it: `%XX` for a byte, `+` for a space (as AWS and SeaweedFS do). Nil
    /// for a malformed escape. Bytes that are not UTF-8 come back as U+FFFD.
    public static func urlDecoded(_ text: String) -> String? {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        func hex(_ byte: UInt8?) -> UInt8? {
            switch byte {
            case (UInt8(ascii: "0")...UInt8(ascii: "9"))?: return byte! - UInt8(ascii: "0")
            case (UInt8(ascii: "a")...UInt8(ascii: "f"))?: return byte! - UInt8(ascii: "a") + 10
            case (UInt8(ascii: "A")...UInt8(ascii: "F"))?: return byte! - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = hex(iterator.next()), let low = hex(iterator.next()) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The `<Error><Code>` body S3 sends with a failure, when there is one.
    public static func parseError(_ data: Data) -> ErrorBody? {
        var code: String?
        var message: String?
        let root = try? SAXReader.read(
            data,
            capturing: { path in
                path.count == 2 && (path[1] == "Code" || path[1] == "Message")
            },
            ended: { path, text in
                guard path.count == 2, path[0] == "Error" else { return }
                if path[1] == "Code" { code = code ?? text } else if path[1] == "Message" { message = message ?? text }
            })
        guard root == "Error", let code else { return nil }
        return ErrorBody(code: code, message: message)
    }

    /// Leading and trailing spaces, tabs and line breaks off a value (Foundation's trimming bridges through NSString,
    /// which cost more than the parse itself on a 1,000-key page).
    private static func trimmed(_ text: String) -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isSpace($0) })!
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return text }
        return String(text[first...last])
    }
}

/// A streaming (SAX2) read of an XML body through libxml2, keeping only the text of the elements asked for.
/// Foundation's `XMLParser` sits on the same libxml2 but builds a Swift string for every element name, path and
/// text node, and it crashed on some malformed bodies (found by fuzzing); calling libxml2 directly made a
/// 1,000-key ListObjectsV2 page several times cheaper to read.
enum SAXReader {
    /// Calls `ended` for every element end with the element's path from the root and, for elements `capturing`
    /// said yes to when they started, their text. Returns the root element's name; throws when the body is not
    /// well-formed XML. DTDs and entity declarations are refused: no S3 answer has them, and they are how an XML
    /// body makes a parser expand or fetch things.
    static func read(
        _ data: Data, capturing: ([String]) -> Bool, ended: ([String], String?) -> Void
    ) throws -> String {
        try screen(data)
        return try withoutActuallyEscaping(capturing) { capturing in
            try withoutActuallyEscaping(ended) { ended in
                let state = State(capturing: capturing, ended: ended)
                try parse(data, state: state)
                return state.root ?? ""
            }
        }
    }

    private final class State {
        let capturing: ([String]) -> Bool
        let ended: ([String], String?) -> Void
        var path: [String] = []
        var root: String?
        /// The depth of the element whose text is being kept, if any.
        var captureDepth: Int?
        var text: [UInt8] = []
        var failure: String?

        init(capturing: @escaping ([String]) -> Bool, ended: @escaping ([String], String?) -> Void) {
            self.capturing = capturing
            self.ended = ended
        }

        func start(_ name: String) {
            path.append(name)
            if root == nil { root = name }
            if captureDepth == nil && capturing(path) {
                captureDepth = path.count
                text.removeAll(keepingCapacity: true)
            }
        }

        func characters(_ bytes: UnsafeBufferPointer<UInt8>) {
            // Only the captured element's own text, not that of elements inside it.
            if captureDepth == path.count { text.append(contentsOf: bytes) }
        }

        func end() {
            var value: String?
            if captureDepth == path.count {
                value = String(decoding: text, as: UTF8.self)
                captureDepth = nil
            }
            ended(path, value)
            path.removeLast()
        }
    }

    /// libxml2's global set-up, which is not safe to race: once, before any thread parses.
    private static let libraryReady: Void = xmlInitParser()

    private static func parse(_ data: Data, state: State) throws {
        _ = libraryReady
        var handler = xmlSAXHandler()
        handler.initialized = UInt32(XML_SAX2_MAGIC)
        handler.startElementNs = { context, localName, _, _, _, _, _, _, _ in
            guard let context, let localName else { return }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            state.start(String(cString: localName))
        }
        handler.endElementNs = { context, _, _, _ in
            guard let context else { return }
            Unmanaged<State>.fromOpaque(context).takeUnretainedValue().end()
        }
        let characters: charactersSAXFunc = { context, bytes, length in
            guard let context, let bytes, length > 0 else { return }
            Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
                .characters(UnsafeBufferPointer(start: bytes, count: Int(length)))
        }
        handler.characters = characters
        handler.cdataBlock = characters
        // A structured error handler keeps libxml2 from printing to stderr; the first error is the one reported.
        handler.serror = { context, error in
            guard let context, let error else { return }
            let state = Unmanaged<State>.fromOpaque(context).takeUnretainedValue()
            if state.failure == nil, error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue {
                state.failure = "line \(error.pointee.line), column \(error.pointee.int2)"
            }
        }
        let context = Unmanaged.passUnretained(state).toOpaque()
        let wellFormed: Bool = withExtendedLifetime(state) {
            guard let parser = xmlCreatePushParserCtxt(&handler, context, nil, 0, nil) else { return false }
            defer { xmlFreeParserCtxt(parser) }
            xmlCtxtUseOptions(parser, Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue))
            let status = data.withUnsafeBytes { body -> Int32 in
                guard let base = body.baseAddress, body.count > 0 else { return xmlParseChunk(parser, nil, 0, 1) }
                return xmlParseChunk(parser, base.assumingMemoryBound(to: CChar.self), Int32(body.count), 1)
            }
            return status == 0 && parser.pointee.wellFormed != 0
        }
        guard wellFormed, state.failure == nil else {
            throw S3XML.XMLError(
                description: "truncated or malformed XML (\(state.failure ?? "at byte \(data.count)"))")
        }
    }

    /// S3 answers are UTF-8 with at most an XML declaration in front. A DTD (and the entities it declares) is the
    /// one part of XML that makes a parser do more than read the bytes in front of it, so bodies with one are
    /// refused before they reach libxml2, as are bodies too large for its 32-bit length.
    private static func screen(_ data: Data) throws {
        guard data.count < Int32.max else {
            throw S3XML.XMLError(description: "XML body too large (\(data.count) bytes)")
        }
        guard String(validating: data, as: UTF8.self) != nil else {
            throw S3XML.XMLError(description: "malformed XML (not valid UTF-8)")
        }
        let declarations = ["<!DOCTYPE", "<!ENTITY"].map { Array($0.utf8) }
        let found: Bool = data.withUnsafeBytes { body in
            let bytes = body.bindMemory(to: UInt8.self)
            var at = 0
            while let open = bytes[at...].firstIndex(of: UInt8(ascii: "<")) {
                if declarations.contains(where: { bytes[open...].starts(with: $0) }) { return true }
                at = open + 1
            }
            return false
        }
        if found { throw S3XML.XMLError(description: "malformed XML (unexpected DTD)") }
    }
}
