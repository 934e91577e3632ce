// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dr-audit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dr-audit", targets: ["dr-audit"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Pure core: names, records, pairing, checks. No file, network or database access.
        // Yams: the restore plan is emitted by a YAML emitter, never by string concatenation.
        .target(
            name: "DRAuditCore",
            dependencies: ["CLibXML2", "CZlib", "CCrypto", .product(name: "Yams", package: "Yams")]),
        // Edges: config loading, targets (storage), cluster exports, the SQLite index, the commands' logic.
        .target(
            name: "DRAudit",
            dependencies: [
                "DRAuditCore",
                "CLibSSH2",
                "CCurl",
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        .executableTarget(
            name: "dr-audit",
            dependencies: [
                "DRAudit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Turns migrations/*.sql into Swift source so the binary carries them and runs from any directory.
        .executableTarget(name: "embed-migrations"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["embed-migrations"]),
        .testTarget(name: "DRAuditCoreTests", dependencies: ["DRAuditCore", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "DRAuditTests",
            dependencies: [
                "DRAudit", "DRAuditCore", "dr-audit", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ]
)

// The parser fuzzer, built only by `make fuzz` (scripts/fuzz.sh, which finds libFuzzer's no-main archive: its
// `main` would clash with the one SwiftPM gives every executable). The core it exercises is instrumented too,
// so coverage guides the fuzzer into the parsers.
if Context.environment["DR_AUDIT_FUZZ"] == "1", let libFuzzer = Context.environment["DR_AUDIT_LIBFUZZER"] {
    let sanitize: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    // DRAudit too: the documents fuzzer reads configs, CRs and exports as the binary does (Documents, Config).
    for index in package.targets.indices where ["DRAuditCore", "DRAudit"].contains(package.targets[index].name) {
        package.targets[index].swiftSettings = sanitize
    }
    package.targets.append(
        .executableTarget(
            name: "fuzz-parsers", dependencies: ["DRAuditCore", "DRAudit"], path: "Fuzz/Parsers",
            swiftSettings: sanitize,
            linkerSettings: [.unsafeFlags(["-sanitize=address", "-Xlinker", libFuzzer, "-lstdc++"])]
        ))
    package.products.append(.executable(name: "fuzz-parsers", targets: ["fuzz-parsers"]))
}
