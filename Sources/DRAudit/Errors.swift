import Foundation

/// A failure reported to the operator as one line. `code` is the finding code a scan records for it.
public struct DRAuditError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var code: String?

    public init(_ message: String, code: String? = nil) {
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// Any error as one line, without type names or stack noise.
    public static func oneLine(_ error: Error) -> String {
        let text = (error as? DRAuditError)?.message ?? String(describing: error)
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
