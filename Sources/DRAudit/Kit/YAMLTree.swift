import DRAuditCore
import Foundation
import Yams

/// Yams nodes for the files dr-audit writes (the kit's CRs and Secrets, the kit's config, `init`'s starter
/// config): read, edited by path, and emitted by Yams' emitter. Strings keep their type: a string that would read
/// back as a number, a boolean or null is quoted (Yams' own rule for strings), so `kubectl apply` sees what the API
/// server returned.
enum YAMLTree {
    /// An API server answer (JSON) as YAML nodes: JSON strings stay strings, numbers and booleans stay plain.
    static func fromJSON(_ data: Data, what: String) throws -> Node {
        guard let text = String(data: data, encoding: .utf8),
            let node = try? Yams.compose(yaml: text), node.mapping != nil
        else {
            throw DRAuditError("\(what): the Kubernetes API answer is not a JSON object")
        }
        return retagStrings(node)
    }

    /// A string scalar (quoted in the source) as Yams represents a Swift String: plain when it reads back as a
    /// string, single-quoted otherwise.
    private static func retagStrings(_ node: Node) -> Node {
        switch node {
        case .scalar(let scalar):
            return scalar.style == .plain || scalar.style == .any ? node : .scalar(scalar.string.represented())
        case .sequence(var sequence):
            for index in sequence.indices { sequence[index] = retagStrings(sequence[index]) }
            return .sequence(sequence)
        case .mapping(var mapping):
            for index in mapping.indices {
                mapping[index] = (retagStrings(mapping[index].key), retagStrings(mapping[index].value))
            }
            return .mapping(mapping)
        }
    }

    static func string(_ value: String) -> Node { .scalar(value.represented()) }

    static func get(_ node: Node, _ path: [String]) -> Node? {
        var current: Node? = node
        for key in path { current = current?.mapping?[key] }
        return current
    }

    /// Sets (or, with nil, removes) the value at `path`, making the mappings on the way.
    static func set(_ node: inout Node, _ path: [String], _ value: Node?) {
        guard let key = path.first else {
            if let value { node = value }
            return
        }
        var mapping = node.mapping ?? Node.Mapping([])
        if path.count == 1 {
            mapping[key] = value
        } else {
            var child = mapping[key] ?? Node.Mapping([]).node
            if child.mapping == nil { child = Node.Mapping([]).node }
            set(&child, Array(path.dropFirst()), value)
            mapping[key] = child
        }
        node = .mapping(mapping)
    }

    /// Keeps only `keys` of the mapping at `path`, in their order there.
    static func keep(_ node: inout Node, _ path: [String], _ keys: Set<String>) {
        guard let mapping = get(node, path)?.mapping else { return }
        let kept = mapping.filter { $0.key.string.map(keys.contains) ?? false }
        set(&node, path, Node.Mapping(kept.map { ($0.key, $0.value) }).node)
    }

    /// Text for a `#` comment line: printable ASCII kept, anything else (a line break of YAML 1.1 such as U+2028 or
    /// U+0085, a control or bidi character) written as `\u{…}`, so no name can end the comment and become YAML.
    static func commentText(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value < 0x7F {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
        }
        return out
    }

    static func emit(_ node: Node) throws -> String {
        do { return try Yams.serialize(node: node, width: -1) } catch {
            throw DRAuditError("cannot write YAML: \(DRAuditError.oneLine(error))")
        }
    }
}

extension Node.Mapping {
    var node: Node { .mapping(self) }
}
