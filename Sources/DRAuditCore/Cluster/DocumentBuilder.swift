/// Bounds on a YAML/JSON document, far above any real config, CR, Secret, kubeconfig or `kubectl get` export,
/// and low enough that a hostile one cannot take the machine: a 462-byte alias bomb otherwise expands to 15 GB, and
/// 100,000 nested `[` overflow the stack of a recursive composer.
public struct DocumentLimits: Equatable, Sendable {
    /// Bytes read from the file (or answer) at most.
    public var maxBytes: Int
    /// Collections nested in one another at most (a CR with its managedFields nests about 15 deep).
    public var maxDepth: Int
    /// Nodes (scalars, keys and collections, with what aliases repeat) kept: in the document, or, for an export
    /// read an item at a time, in each item of its `items`.
    public var maxNodes: Int
    /// Nodes that aliases may repeat, and that anchors may hold, in the whole document.
    public var maxAliasNodes: Int
    /// Bytes one scalar (or comment) may take: the parser holds a scalar whole before it is handed over. A Secret's
    /// value stays under 1 MiB, an annotation under 256 KiB.
    public var maxValueBytes: Int

    public init(
        maxBytes: Int, maxDepth: Int = 100, maxNodes: Int = 200_000, maxAliasNodes: Int = 10_000,
        maxValueBytes: Int = 16 << 20
    ) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.maxAliasNodes = maxAliasNodes
        self.maxValueBytes = maxValueBytes
    }

    /// The config, a CR, a Secret, a kubeconfig: 4 MiB (Kubernetes itself stores no object over about 1.5 MiB).
    public static let document = DocumentLimits(maxBytes: 4 << 20)
    /// A `kubectl get … -o json|yaml` export, read an item at a time: 4 GiB (a million backup CRs).
    public static let export = DocumentLimits(maxBytes: 4 << 30)
    /// One page of a List answer from the API server (500 items, each with its managedFields): 64 MiB.
    public static let apiAnswer = DocumentLimits(maxBytes: 64 << 20, maxNodes: 2_000_000)

    /// `8 MiB`, `4 GiB`: a limit as the README and the error messages write it.
    public static func formatBytes(_ bytes: Int) -> String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}

/// Builds `DocumentNode`s from a YAML parser's events, iteratively (no recursion, so no depth can overflow the
/// stack) and within `DocumentLimits`: depth, nodes, and what aliases may repeat. With `streamItems`, each item
/// of the top-level mapping's `items` sequence is handed back as soon as it is complete and not kept, so a
/// 100,000-CR export is never whole in memory.
///
/// Pure: the events come from libyaml at the edge (`Documents`), or from a test.
public struct DocumentBuilder {
    public enum Event: Equatable, Sendable {
        case scalar(String, plain: Bool = true, anchor: String? = nil)
        case alias(String)
        case sequenceStart(anchor: String? = nil)
        case mappingStart(anchor: String? = nil)
        case sequenceEnd
        case mappingEnd
    }

    private struct Frame {
        var isMapping: Bool
        var items: [DocumentNode] = []
        var entries: [String: DocumentNode] = [:]
        /// A mapping's key whose value comes next.
        var key: String?
        var anchor: String?
        /// Nodes in this collection so far, itself included.
        var nodes = 1
        /// Levels of collections inside it, itself included.
        var height = 1
        /// The sequence under the root mapping's `items` key, when its items are streamed.
        var streams = false

        var awaitsKey: Bool { isMapping && key == nil }
    }

    private struct Anchored {
        var node: DocumentNode
        var nodes: Int
        var height: Int
    }

    public let limits: DocumentLimits
    public let streamItems: Bool
    private var stack: [Frame] = []
    private var anchors: [String: Anchored] = [:]
    /// Nodes of the document, or of the current top-level item.
    private var nodes = 0
    /// The document's count while an item is counted on its own.
    private var outerNodes: Int?
    private var aliasNodes = 0
    private var anchoredNodes = 0
    private var itemIndex = 0
    /// The document, once its root node is complete; with `streamItems`, its `items` list is empty.
    public private(set) var root: DocumentNode?

    public init(limits: DocumentLimits, streamItems: Bool = false) {
        self.limits = limits
        self.streamItems = streamItems
    }

    /// Adds one event. Returns an item of the top-level `items` list when `streamItems` is set and one is complete.
    public mutating func add(_ event: Event) throws(DocumentError) -> (index: Int, item: DocumentNode)? {
        guard root == nil else { throw DocumentError("more than one root node") }
        switch event {
        case .scalar(let text, let plain, let anchor):
            startNode()
            try count(1)
            if stack.last?.awaitsKey == true {
                // A key: its text, whatever it looks like.
                if let anchor { try hold(anchor, .scalar(text), nodes: 1, height: 0) }
                stack[stack.count - 1].key = text
                stack[stack.count - 1].nodes += 1
                return nil
            }
            let node: DocumentNode = plain && ["", "~", "null", "Null", "NULL"].contains(text) ? .null : .scalar(text)
            if let anchor { try hold(anchor, node, nodes: 1, height: 0) }
            return try complete(node, nodes: 1, height: 0)
        case .alias(let name):
            guard let anchored = anchors[name] else { throw DocumentError("alias *\(name) names no anchor") }
            startNode()
            aliasNodes += anchored.nodes
            guard aliasNodes <= limits.maxAliasNodes else {
                throw DocumentError("aliases repeat more than \(limits.maxAliasNodes) nodes (an alias bomb?)")
            }
            guard stack.count + anchored.height <= limits.maxDepth else { throw tooDeep }
            try count(anchored.nodes)
            if stack.last?.awaitsKey == true {
                guard case .scalar(let key) = anchored.node else {
                    throw DocumentError("a mapping key is not a scalar")
                }
                stack[stack.count - 1].key = key
                stack[stack.count - 1].nodes += 1
                return nil
            }
            return try complete(anchored.node, nodes: anchored.nodes, height: anchored.height)
        case .sequenceStart(let anchor), .mappingStart(let anchor):
            if stack.last?.awaitsKey == true { throw DocumentError("a mapping key is not a scalar") }
            startNode()
            try count(1)
            let isMapping = event == .mappingStart(anchor: anchor)
            // The root mapping's `items` sequence: a List's items, handed back one by one.
            let streams = streamItems && !isMapping && stack.count == 1 && stack[0].key == "items"
            stack.append(Frame(isMapping: isMapping, anchor: anchor, streams: streams))
            guard stack.count <= limits.maxDepth else { throw tooDeep }
            return nil
        case .sequenceEnd, .mappingEnd:
            guard let frame = stack.popLast() else { throw DocumentError("a collection ends that never began") }
            guard frame.isMapping == (event == .mappingEnd) else {
                throw DocumentError("a collection ends as the other kind")
            }
            guard frame.key == nil else { throw DocumentError("a mapping ends in the middle of an entry") }
            let node: DocumentNode = frame.isMapping ? .map(frame.entries) : .list(frame.items)
            if let anchor = frame.anchor { try hold(anchor, node, nodes: frame.nodes, height: frame.height) }
            return try complete(node, nodes: frame.nodes, height: frame.height)
        }
    }

    private var tooDeep: DocumentError {
        DocumentError("nested deeper than \(limits.maxDepth) levels")
    }

    /// A streamed item starts: its nodes are counted on their own, and not kept.
    private mutating func startNode() {
        if stack.count == 2, stack[1].streams {
            outerNodes = nodes
            nodes = 0
        }
    }

    private mutating func count(_ added: Int) throws(DocumentError) {
        nodes += added
        guard nodes <= limits.maxNodes else {
            throw DocumentError(
                outerNodes == nil
                    ? "more than \(limits.maxNodes) nodes"
                    : "item \(itemIndex) has more than \(limits.maxNodes) nodes")
        }
    }

    private mutating func hold(_ name: String, _ node: DocumentNode, nodes: Int, height: Int) throws(DocumentError) {
        anchoredNodes += nodes - (anchors[name]?.nodes ?? 0)
        guard anchoredNodes <= limits.maxAliasNodes else {
            throw DocumentError("anchors hold more than \(limits.maxAliasNodes) nodes")
        }
        anchors[name] = Anchored(node: node, nodes: nodes, height: height)
    }

    /// Puts a complete node into its parent, makes it the root, or hands it back as a streamed item.
    private mutating func complete(_ node: DocumentNode, nodes subtree: Int, height: Int) throws(DocumentError)
        -> (index: Int, item: DocumentNode)?
    {
        guard !stack.isEmpty else {
            root = node
            return nil
        }
        let top = stack.count - 1
        if stack[top].streams, let outer = outerNodes {
            nodes = outer
            outerNodes = nil
            itemIndex += 1
            return (itemIndex - 1, node)
        }
        stack[top].nodes += subtree
        stack[top].height = max(stack[top].height, height + 1)
        if stack[top].isMapping {
            guard let key = stack[top].key else { throw DocumentError("a mapping key is missing") }
            // Parsers differ on which of two values wins (and an export's streamed `items` would be read twice);
            // in a config, the second one is a typo.
            guard stack[top].entries.updateValue(node, forKey: key) == nil else {
                throw DocumentError("the key '\(key.prefix(100))' appears twice in one mapping")
            }
            stack[top].key = nil
        } else {
            stack[top].items.append(node)
        }
        return nil
    }
}
