import DRAuditCore
import Foundation
import Logging

/// `--verbose` logs on stderr, one line per entry as swift-log's stream handler writes them, with the message and
/// metadata passed through `DisplayText.escape`: scan errors quote object keys, which anyone with write access to
/// the storage chooses.
public struct EscapingLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
        let text =
            "\(UTC.rfc3339(Date())) \(event.level) \(label):\(fields.isEmpty ? "" : " \(fields)") \(event.message)"
        FileHandle.standardError.write(Data((DisplayText.escape(text) + "\n").utf8))
    }
}
