/// Names from storage, the cluster or the config, made safe to show as text (tables, Markdown, plain text, HTML,
/// error lines, YAML comments). Anyone who can write to the backup storage chooses the names dr-audit prints: a
/// newline forges a table row, ESC or U+009B drives the terminal (`\e[2J` clears it), U+2028/U+0085 are line
/// breaks to YAML 1.1 parsers, and bidi controls show a name in another order than it is. JSON output stays exact.
public enum DisplayText {
    /// `text` with every control and bidi character written as an escape, and nothing else changed:
    /// `\n`, `\r`, `\t`; other C0 and DEL as `\x1b`; C1, U+2028/U+2029 and the bidi controls as `\u{202E}`.
    /// A text without any comes back as it is (the common case costs one pass over its bytes).
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x80 {
                    out += "\\x" + hex(scalar.value, digits: 2)
                } else {
                    out += "\\u{" + hex(scalar.value, digits: 4) + "}"
                }
            }
        }
        return out
    }

    /// Whether `text` would be changed by `escape`.
    public static func isPlain(_ text: String) -> Bool { !text.unicodeScalars.contains(where: needsEscape) }

    /// C0 controls, DEL, C1 controls (U+0085 NEL and U+009B CSI among them), the line and paragraph separators,
    /// and the bidi controls: marks (U+061C, U+200E, U+200F), embeddings and overrides (U+202A–U+202E),
    /// isolates (U+2066–U+2069).
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: value >= 0x80)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
