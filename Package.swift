// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "dr-audit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dr-audit", targets: ["dr-audit"]),
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
        // Pure core: names, records, pairing, checks. No file, network or database access.
        .target(name: "DRAuditCore"),
        // Edges: config loading, targets (storage), cluster exports, the SQLite index, the commands' logic.
        .target(
            name: "DRAudit",
            dependencies: [
                "DRAuditCore",
                "CLibSSH2",
                "CCurl",
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
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
        .testTarget(name: "DRAuditCoreTests", dependencies: ["DRAuditCore"]),
        .testTarget(
            name: "DRAuditTests",
            dependencies: ["DRAudit", "DRAuditCore", "dr-audit", .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
