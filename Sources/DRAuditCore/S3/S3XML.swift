import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

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

    private final class Collector: NSObject, XMLParserDelegate {
        var path: [String] = []
        var text = ""
        var values: [(path: String, text: String)] = []
        var failure: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            path.append(name)
            text = ""
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            values.append((path.joined(separator: "/"), text))
            path.removeLast()
            text = ""
        }
        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
            failure = "line \(parser.lineNumber), column \(parser.columnNumber)"
        }
    }

    private static func collect(_ data: Data) throws -> [(path: String, text: String)] {
        try screen(data)
        let collector = Collector()
        let parser = XMLParser(data: data)
        parser.delegate = collector
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), collector.failure == nil else {
            throw XMLError(description: "truncated or malformed XML (\(collector.failure ?? "at byte \(data.count)"))")
        }
        return collector.values
    }

    /// Foundation's XMLParser crashes on some malformed bodies (found by fuzzing): an element name that is not
    /// valid UTF-8 (a trap), a processing instruction without data (a NULL dereference). S3 answers are UTF-8 with
    /// at most an XML declaration in front, and never carry processing instructions or DTDs, so bodies that do are
    /// refused before they reach the parser.
    private static func screen(_ data: Data) throws {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw XMLError(description: "malformed XML (not valid UTF-8)")
        }
        let bytes = [UInt8](data)
        // The declaration's own `<?` is the only one allowed.
        let start = bytes.starts(with: Array("<?xml ".utf8)) ? 2 : 0
        for forbidden in ["<?", "<!DOCTYPE", "<!ENTITY"] where find(Array(forbidden.utf8), in: bytes, from: start) != nil {
            throw XMLError(description: "malformed XML (unexpected \(forbidden))")
        }
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        var i = start
        while i <= bytes.count - needle.count {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    public static func parseList(_ data: Data) throws -> Page {
        let values = try collect(data)
        guard values.last?.path == "ListBucketResult" else {
            throw XMLError(description: "not a ListBucketResult (root \(values.last?.path ?? "missing"))")
        }
        var page = Page(objects: [], isTruncated: false, nextContinuationToken: nil)
        var key: String?, size: Int64?, modified: Date?
        for (path, text) in values {
            switch path {
            case "ListBucketResult/Contents/Key": key = text
            case "ListBucketResult/Contents/Size": size = Int64(text.trimmingCharacters(in: .whitespaces))
            case "ListBucketResult/Contents/LastModified": modified = UTC.parseRFC3339(text.trimmingCharacters(in: .whitespaces))
            case "ListBucketResult/Contents":
                guard let k = key, !k.isEmpty, let s = size, s >= 0 else {
                    throw XMLError(description: "a Contents entry lacks Key or Size")
                }
                page.objects.append((k, s, modified))
                key = nil; size = nil; modified = nil
            case "ListBucketResult/IsTruncated": page.isTruncated = text.trimmingCharacters(in: .whitespaces) == "true"
            case "ListBucketResult/NextContinuationToken": page.nextContinuationToken = text
            default: break
            }
        }
        if page.isTruncated && (page.nextContinuationToken ?? "").isEmpty {
            throw XMLError(description: "IsTruncated without NextContinuationToken")
        }
        return page
    }

    /// The `<Error><Code>` body S3 sends with a failure, when there is one.
    public static func parseError(_ data: Data) -> ErrorBody? {
        guard let values = try? collect(data), values.last?.path == "Error" else { return nil }
        let code = values.first { $0.path == "Error/Code" }?.text
        return code.map { ErrorBody(code: $0, message: values.first { $0.path == "Error/Message" }?.text) }
    }
}
