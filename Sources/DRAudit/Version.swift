/// What `dr-audit --version` prints: the tool's version and the index schema it writes.
public enum Version {
    /// The tool's version; raise it with each release.
    public static let tool = "0.9.0"

    /// The index schema this build writes: the name of its newest migration (`migrations/NNNN_name.sql`).
    public static var indexSchema: String { embeddedMigrations.map(\.name).max() ?? "none" }

    public static var text: String { "dr-audit \(tool) (index schema \(indexSchema))" }
}
