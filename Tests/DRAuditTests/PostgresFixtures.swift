import DRAuditCore
import Foundation

@testable import DRAudit

/// The management backup repositories that scripts/pg-fixtures.sh wrote with the real tools (PostgreSQL 15,
/// pgBackRest 2.45, barman-cloud 3.4), and the tools' own view of them. A test that needs them fails when they are
/// missing: it never skips.
///
/// pgBackRest stanza `stanza` has a full and two incremental backups in each repository: repo1 on a local path
/// (`repo1Path`), repo2 on the test S3 (`repo2`); barman-cloud has two backups of server `barman.server`. Every WAL
/// segment went to all three. Marker rows were written around `pitrTarget`.
struct PostgresFixtures {
    /// Where an S3 copy lives: `s3://bucket/prefix` on `endpoint`.
    struct S3Place {
        let endpoint: String
        let bucket: String
        let prefix: String
    }

    /// One backup as `pgbackrest info --output=json` shows it.
    struct PgBackRestBackup {
        let label: String
        /// `full`, `diff` or `incr`.
        let type: String
        let prior: String?
        let start: Date
        let stop: Date
        let archiveStart: String?
        let archiveStop: String?
        let error: Bool
    }

    /// One archive (per PostgreSQL version and system id, e.g. `15-1`) of a repository, as pgBackRest shows it.
    struct PgBackRestArchive {
        let id: String
        let min: String?
        let max: String?
    }

    /// `pgbackrest info --output=json` for one repository.
    struct PgBackRestInfo {
        let backups: [PgBackRestBackup]
        let archives: [PgBackRestArchive]
    }

    /// One backup as `barman-cloud-backup-list --format json` (or `-show`) shows it. barman prints its times to the
    /// second (ctime form, here UTC: the server's time zone is UTC).
    struct BarmanBackup {
        let id: String
        let status: String
        let beginTime: Date
        let endTime: Date
        let beginWAL: String
        let endWAL: String
        let timeline: Int
    }

    /// A marker row of the point-in-time test: table `markerTable`, column `name`, written at `writtenAt`.
    struct Marker {
        let name: String
        let writtenAt: Date
    }

    let dir: String
    let bin: String
    let osUser: String
    let stanza: String
    let repo1Path: String
    let repo2: S3Place
    let barman: S3Place
    let barmanServer: String
    /// As pgBackRest's `--target` and IBM's `pitrTarget` take it: `2026-11-25 16:11:22+00`.
    let pitrTarget: String
    let pitrTargetTime: Date
    let markerTable: String
    let before: Marker
    let after: Marker
    private let values: [String: String]

    static var envFile: URL { TestServers.repoRoot.appendingPathComponent(".test-servers/env.pg") }

    /// Reads .test-servers/env.pg; throws one clear line when the fixtures are missing or stale.
    static func load() throws -> PostgresFixtures {
        guard let text = try? String(contentsOf: envFile, encoding: .utf8) else {
            throw DRAuditError(
                "PostgreSQL fixtures are missing (\(envFile.path)): run scripts/pg-fixtures.sh start, or scripts/test-servers.sh start"
            )
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        func value(_ key: String) throws -> String {
            guard let v = values[key], !v.isEmpty else {
                throw DRAuditError(
                    "PostgreSQL fixtures: \(key) missing from \(envFile.path); run scripts/pg-fixtures.sh start")
            }
            return v
        }
        func time(_ key: String) throws -> Date {
            let text = try value(key)
            guard let date = isoTime(text) else {
                throw DRAuditError("PostgreSQL fixtures: \(key)=\(text) is not an RFC 3339 time")
            }
            return date
        }
        let fixtures = PostgresFixtures(
            dir: try value("DRTEST_PG_DIR"), bin: try value("DRTEST_PG_BIN"), osUser: try value("DRTEST_PG_OS_USER"),
            stanza: try value("DRTEST_PG_STANZA"), repo1Path: try value("DRTEST_PG_REPO1_PATH"),
            repo2: S3Place(
                endpoint: try value("DRTEST_PG_REPO2_ENDPOINT"), bucket: try value("DRTEST_PG_REPO2_BUCKET"),
                prefix: try value("DRTEST_PG_REPO2_PREFIX")),
            barman: S3Place(
                endpoint: try value("DRTEST_PG_BARMAN_ENDPOINT"), bucket: try value("DRTEST_PG_BARMAN_BUCKET"),
                prefix: try value("DRTEST_PG_BARMAN_PREFIX")),
            barmanServer: try value("DRTEST_PG_BARMAN_SERVER"), pitrTarget: try value("DRTEST_PG_PITR_TARGET"),
            pitrTargetTime: try time("DRTEST_PG_PITR_TARGET_RFC3339"), markerTable: try value("DRTEST_PG_MARKER_TABLE"),
            before: Marker(
                name: try value("DRTEST_PG_MARKER_BEFORE"), writtenAt: try time("DRTEST_PG_MARKER_BEFORE_AT")),
            after: Marker(name: try value("DRTEST_PG_MARKER_AFTER"), writtenAt: try time("DRTEST_PG_MARKER_AFTER_AT")),
            values: values)
        let backupInfo = "\(fixtures.repo1Path)/backup/\(fixtures.stanza)/backup.info"
        guard FileManager.default.fileExists(atPath: backupInfo) else {
            throw DRAuditError(
                "PostgreSQL fixtures are stale (\(backupInfo) is missing): run scripts/pg-fixtures.sh start")
        }
        return fixtures
    }

    /// Any key of env.pg, e.g. `DRTEST_PG_INFO_JSON`.
    func value(_ key: String) throws -> String {
        guard let v = values[key] else { throw DRAuditError("PostgreSQL fixtures: \(key) missing from env.pg") }
        return v
    }

    /// The repository's `archive/<stanza>` folder on the local path, where the WAL segments are.
    var repo1ArchivePath: String { "\(repo1Path)/archive/\(stanza)" }

    /// barman-cloud's folder for the server in its bucket: `<prefix>/<server>` (holding `base/` and `wals/`).
    var barmanServerPrefix: String { "\(barman.prefix)/\(barmanServer)" }

    // MARK: The tools' own view

    /// `pgbackrest info --output=json --repo=<repo>` as the set-up saved it.
    func pgBackRestInfo(repo: Int) throws -> PgBackRestInfo {
        let path = try value("DRTEST_PG_INFO_REPO\(repo)_JSON")
        let stanzas = try JSONDecoder().decode([InfoJSON.Stanza].self, from: try read(path))
        guard let mine = stanzas.first(where: { $0.name == stanza }) else {
            throw DRAuditError("\(path) has no stanza \(stanza)")
        }
        return PgBackRestInfo(
            backups: mine.backup.map {
                PgBackRestBackup(
                    label: $0.label, type: $0.type, prior: $0.prior,
                    start: Date(timeIntervalSince1970: $0.timestamp.start),
                    stop: Date(timeIntervalSince1970: $0.timestamp.stop), archiveStart: $0.archive?.start,
                    archiveStop: $0.archive?.stop, error: $0.error ?? false)
            },
            archives: mine.archive.map { PgBackRestArchive(id: $0.id, min: $0.min, max: $0.max) })
    }

    /// `barman-cloud-backup-list --format json`, oldest first.
    func barmanBackups() throws -> [BarmanBackup] {
        let path = try value("DRTEST_PG_BARMAN_LIST_JSON")
        let list = try JSONDecoder().decode(BarmanJSON.List.self, from: try read(path))
        return try list.backups_list.map { try $0.backup(in: path) }
    }

    /// `barman-cloud-backup-show --format json` of one backup.
    func barmanShow(_ id: String) throws -> BarmanBackup {
        let path = try value("DRTEST_PG_BARMAN_SHOW_DIR") + "/\(id).json"
        let shown = try JSONDecoder().decode([String: BarmanJSON.Backup].self, from: try read(path))
        guard let backup = shown.values.first else { throw DRAuditError("\(path) shows no backup") }
        return try backup.backup(in: path)
    }

    // MARK: Restores

    /// Restores `repository` (default: the local repo1) to `target` (nil: the end of the archive) with
    /// `pgbackrest restore --type=time`, starts PostgreSQL on it, and returns the rows `sql` gives (psql unaligned,
    /// `|` between columns). Throws the script's one-line error when the restore or the recovery fails.
    func restoreAndQuery(target: String?, sql: String, repository: String? = nil) throws -> [String] {
        var arguments = ["--repo", repository ?? repo1Path, "--stanza", stanza, "--sql", sql]
        if let target { arguments += ["--target", target] }
        let script = TestServers.repoRoot.appendingPathComponent("scripts/pg-restore-check.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["DRTEST_PG_BIN"] = bin
        environment["DRTEST_PG_OS_USER"] = osUser
        let result = try cli(arguments, executable: script, environment: environment)
        guard result.status == 0 else {
            let message = result.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)"
            throw DRAuditError(message)
        }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// A copy of the local repository (times kept: a segment's archive time is its file's mtime), readable by the
    /// PostgreSQL user, removed with the value: a test may delete or damage files in it without harming others.
    func copyRepository(_ name: String = #function) throws -> RepositoryCopy {
        try RepositoryCopy(of: repo1Path, owner: osUser, name: name)
    }

    /// The copy's archived WAL files of one archive id (e.g. `15-1`), by name, with their paths.
    static func archivedFiles(inRepository repo: String, stanza: String, archiveID: String) throws -> [String: String] {
        let root = "\(repo)/archive/\(stanza)/\(archiveID)"
        var files: [String: String] = [:]
        for folder in try FileManager.default.contentsOfDirectory(atPath: root) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(root)/\(folder)", isDirectory: &isDir), isDir.boolValue
            else { continue }
            for file in try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(folder)") {
                files[file] = "\(root)/\(folder)/\(file)"
            }
        }
        return files
    }

    private func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DRAuditError("PostgreSQL fixtures: \(path) is missing; run scripts/pg-fixtures.sh start")
        }
        return data
    }
}

/// A copy of a pgBackRest repository in a temp folder, owned by the PostgreSQL user; removed at deinit.
final class RepositoryCopy {
    let root: URL
    let path: String

    init(of source: String, owner: String, name: String) throws {
        let clean = name.filter { $0.isLetter || $0.isNumber }
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "dr-audit-repo-\(clean)-\(UUID().uuidString.prefix(8))")
        path = root.appendingPathComponent("repo").path
        try FileManager.default.createDirectory(
            at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let copy = try cli(["-a", source, path], executable: "/bin/cp")
        guard copy.status == 0 else { throw DRAuditError("copying \(source): \(copy.stderr)") }
        if getuid() == 0 {
            let chown = try cli(["-R", "\(owner):", path], executable: "/bin/chown")
            guard chown.status == 0 else { throw DRAuditError("chown \(owner) \(path): \(chown.stderr)") }
        }
    }

    deinit { try? FileManager.default.removeItem(at: root) }
}

// MARK: JSON shapes of the tools' output

private enum InfoJSON {
    struct Stanza: Decodable {
        let name: String
        let archive: [Archive]
        let backup: [Backup]
    }
    struct Archive: Decodable {
        let id: String
        let min: String?
        let max: String?
    }
    struct Backup: Decodable {
        let label: String
        let type: String
        let prior: String?
        let error: Bool?
        let timestamp: Range
        let archive: WALRange?
    }
    struct Range: Decodable {
        let start: TimeInterval
        let stop: TimeInterval
    }
    struct WALRange: Decodable {
        let start: String?
        let stop: String?
    }
}

private enum BarmanJSON {
    struct List: Decodable {
        let backups_list: [Backup]
    }
    struct Backup: Decodable {
        let backup_id: String
        let status: String
        let begin_time: String
        let end_time: String
        let begin_wal: String
        let end_wal: String
        let timeline: Int

        func backup(in path: String) throws -> PostgresFixtures.BarmanBackup {
            guard let begin = ctime(begin_time), let end = ctime(end_time) else {
                throw DRAuditError("\(path): backup \(backup_id) has times barman did not print in ctime form")
            }
            return PostgresFixtures.BarmanBackup(
                id: backup_id, status: status, beginTime: begin, endTime: end, beginWAL: begin_wal, endWAL: end_wal,
                timeline: timeline)
        }
    }
}

/// `Wed Nov 25 16:10:58 2026` (Python's ctime, as barman prints times in JSON), read as UTC.
func ctime(_ text: String) -> Date? {
    let parts = text.split(separator: " ")
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    guard parts.count == 5, let month = months.firstIndex(of: String(parts[1])), let day = Int(parts[2]),
        let year = Int(parts[4])
    else { return nil }
    let hms = parts[3].split(separator: ":").compactMap { Int($0) }
    guard hms.count == 3 else { return nil }
    return UTC.date(year: year, month: month + 1, day: day, hour: hms[0], minute: hms[1], second: hms[2])
}

/// RFC 3339 with or without fractions, fractions kept.
func isoTime(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
}
