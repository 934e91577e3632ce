/// A streaming JSON (RFC 8259) reader that yields `DocumentBuilder` events, for `kubectl get -o json` exports and
/// API server answers. Read as YAML 1.1, JSON is not exact: libyaml refuses a raw C1 control (U+009B) inside a JSON
/// string and folds a raw U+0085 to a space, and Go's JSON encoder writes both raw. A portal file named with one,
/// mirrored into a PortalBackup CR, made every export unreadable. Here strings come back exactly as JSON says.
///
/// Pull-based over chunks from `refill` (nil at the end), so an export of any size is read in constant memory; no
/// recursion (the nesting lives in `DocumentBuilder`'s bounds and in `open`, a bit per level).
public struct JSONEvents {
    private enum Expect { case root, value, firstKeyOrEnd, key, colon, firstValueOrEnd, commaOrEnd, done }

    private let refill: () throws -> [UInt8]?
    private let maxStringBytes: Int
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    private var expect = Expect.root
    /// Open containers, innermost last: true for an object.
    private var open: [Bool] = []
    /// 1-based, where the last event began.
    public private(set) var line = 1
    public private(set) var column = 1
    private var currentLine = 1
    /// Where the current line starts, relative to `buffer` (negative once it began in an earlier chunk).
    private var lineStart = 0
    /// Bytes of the chunks before `buffer`.
    private var consumed = 0

    public init(maxStringBytes: Int = 16 << 20, refill: @escaping () throws -> [UInt8]?) {
        self.maxStringBytes = maxStringBytes
        self.refill = refill
    }

    /// Whether `byte`, the first one that is not white space, starts a JSON document rather than YAML.
    public static func startsJSON(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") }

    /// The next event, or nil once the document (and nothing but white space after it) is read. An empty input
    /// is no document: nil at once.
    public mutating func next() throws -> DocumentBuilder.Event? {
        while true {
            try skipWhiteSpace()
            line = currentLine
            column = position - lineStart + 1
            guard let byte = try peek() else {
                if expect == .root || expect == .done { return nil }
                throw fail("the document ends early")
            }
            switch expect {
            case .done:
                throw fail("unexpected data after the document")
            case .root, .value:
                return try value(byte)
            case .firstValueOrEnd:
                if byte == UInt8(ascii: "]") { return close() }
                return try value(byte)
            case .firstKeyOrEnd, .key:
                if expect == .firstKeyOrEnd && byte == UInt8(ascii: "}") { return close() }
                guard byte == UInt8(ascii: "\"") else { throw fail("expected a key in double quotes") }
                position += 1
                expect = .colon
                return .scalar(try string(), plain: false)
            case .colon:
                guard byte == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                position += 1
                expect = .value
            case .commaOrEnd:
                let object = open[open.count - 1]
                position += 1
                switch byte {
                case UInt8(ascii: ","): expect = object ? .key : .value
                case UInt8(ascii: "}") where object, UInt8(ascii: "]") where !object:
                    position -= 1
                    return close()
                default: throw fail(object ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            }
        }
    }

    private func fail(_ problem: String) -> DocumentError {
        DocumentError("malformed JSON: \(problem)")
    }

    private mutating func close() -> DocumentBuilder.Event {
        position += 1
        let object = open.removeLast()
        afterValue()
        return object ? .mappingEnd : .sequenceEnd
    }

    private mutating func afterValue() { expect = open.isEmpty ? .done : .commaOrEnd }

    private mutating func value(_ byte: UInt8) throws -> DocumentBuilder.Event {
        switch byte {
        case UInt8(ascii: "{"):
            position += 1
            open.append(true)
            expect = .firstKeyOrEnd
            return .mappingStart()
        case UInt8(ascii: "["):
            position += 1
            open.append(false)
            expect = .firstValueOrEnd
            return .sequenceStart()
        case UInt8(ascii: "\""):
            position += 1
            let text = try string()
            afterValue()
            return .scalar(text, plain: false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let text = try number()
            afterValue()
            return .scalar(text)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let word = byte == UInt8(ascii: "t") ? "true" : byte == UInt8(ascii: "f") ? "false" : "null"
            for expected in word.utf8 {
                guard try peek() == expected else { throw fail("expected \(word)") }
                position += 1
            }
            afterValue()
            return .scalar(word)
        default:
            throw fail("expected a value")
        }
    }

    private mutating func peek() throws -> UInt8? {
        if position == buffer.count {
            guard !atEnd else { return nil }
            consumed += buffer.count
            lineStart -= buffer.count
            buffer = []
            position = 0
            while buffer.isEmpty {
                guard let chunk = try refill(), !chunk.isEmpty else {
                    atEnd = true
                    return nil
                }
                buffer = chunk
            }
        }
        return buffer[position]
    }

    private mutating func skipWhiteSpace() throws {
        while let byte = try peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): position += 1
            case UInt8(ascii: "\n"):
                position += 1
                currentLine += 1
                lineStart = position
            case 0xEF where consumed == 0 && position == 0:
                // A UTF-8 byte order mark, before anything else.
                for expected: UInt8 in [0xEF, 0xBB, 0xBF] {
                    guard try peek() == expected else { throw fail("expected a value") }
                    position += 1
                }
            default: return
            }
        }
    }

    private mutating func number() throws -> String {
        var text: [UInt8] = []
        func digits(_ reader: inout JSONEvents, into text: inout [UInt8]) throws -> Int {
            var count = 0
            while let byte = try reader.peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                text.append(byte)
                reader.position += 1
                count += 1
                guard text.count <= 1024 else { throw reader.fail("a number longer than 1024 digits") }
            }
            return count
        }
        if try peek() == UInt8(ascii: "-") {
            text.append(UInt8(ascii: "-"))
            position += 1
        }
        let first = try peek()
        let integer = try digits(&self, into: &text)
        guard integer > 0, !(first == UInt8(ascii: "0") && integer > 1) else { throw fail("a malformed number") }
        if try peek() == UInt8(ascii: ".") {
            text.append(UInt8(ascii: "."))
            position += 1
            guard try digits(&self, into: &text) > 0 else { throw fail("a malformed number") }
        }
        if let e = try peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            text.append(e)
            position += 1
            if let sign = try peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                text.append(sign)
                position += 1
            }
            guard try digits(&self, into: &text) > 0 else { throw fail("a malformed number") }
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The rest of a string whose opening quote is read.
    private mutating func string() throws -> String {
        var bytes: [UInt8] = []
        while true {
            guard let byte = try peek() else { throw fail("a string is not closed") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("a string is not UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard let escape = try peek() else { throw fail("a string is not closed") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escape)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard try peek() == UInt8(ascii: "\\") else { throw fail("a lone surrogate in \\u escapes") }
                        position += 1
                        guard try peek() == UInt8(ascii: "u") else { throw fail("a lone surrogate in \\u escapes") }
                        position += 1
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("a lone surrogate in \\u escapes") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let s = Unicode.Scalar(scalar) else { throw fail("a lone surrogate in \\u escapes") }
                    bytes.append(contentsOf: String(Character(s)).utf8)
                default:
                    throw fail("an unknown escape in a string")
                }
            case 0x00..<0x20:
                throw fail("a control character in a string (JSON escapes them)")
            default:
                bytes.append(byte)
            }
            guard bytes.count <= maxStringBytes else {
                throw DocumentError(
                    "a single value is larger than \(DocumentLimits.formatBytes(maxStringBytes))")
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = try peek() else { throw fail("a string is not closed") }
            position += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a malformed \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
