/// A parsed YAML/JSON document. Scalars stay as their text so base64 values and ports are never re-typed.
public indirect enum DocumentNode: Hashable, Sendable {
    case null
    case scalar(String)
    case list([DocumentNode])
    case map([String: DocumentNode])

    public subscript(_ path: String...) -> DocumentNode? { self[path] }

    public subscript(_ path: [String]) -> DocumentNode? {
        var node: DocumentNode? = self
        for key in path {
            guard case .map(let map)? = node else { return nil }
            node = map[key]
        }
        return node
    }

    public var string: String? {
        if case .scalar(let s) = self { return s }
        return nil
    }

    public var items: [DocumentNode]? {
        if case .list(let l) = self { return l }
        return nil
    }

    public var entries: [String: DocumentNode]? {
        if case .map(let m) = self { return m }
        return nil
    }
}
