import DRAuditCore
import Foundation
import Yams

/// Reads YAML or JSON files into `DocumentNode`s, with errors that name the file.
public enum Documents {
    public static func load(_ url: URL, what: String) throws -> DocumentNode {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DRAuditError(
                "\(what) \(url.path): cannot read the file (\(FileManager.default.fileExists(atPath: url.path) ? "permission denied" : "no such file"))"
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DRAuditError("\(what) \(url.path): not UTF-8 text")
        }
        return try parse(text, name: "\(what) \(url.path)")
    }

    public static func parse(_ text: String, name: String) throws -> DocumentNode {
        do {
            guard let root = try Yams.compose(yaml: text) else { return .null }
            return convert(root)
        } catch let error as YamlError {
            throw DRAuditError("\(name): malformed YAML/JSON: \(describe(error))")
        } catch {
            throw DRAuditError("\(name): malformed YAML/JSON: \(DRAuditError.oneLine(error))")
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        // Never echo the document's text: it may be a Secret.
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)" + (context.map { " (\($0.text))" } ?? "")
        case .reader(let problem, let offset, _, _):
            return problem + (offset.map { " at byte \($0)" } ?? "")
        default:
            return "unreadable document"
        }
    }

    private static func convert(_ node: Yams.Node) -> DocumentNode {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return .null }
            return .scalar(scalar.string)
        case .sequence(let sequence):
            return .list(sequence.map(convert))
        case .mapping(let mapping):
            var map: [String: DocumentNode] = [:]
            for (key, value) in mapping { map[key.string ?? String(describing: key)] = convert(value) }
            return .map(map)
        }
    }
}
