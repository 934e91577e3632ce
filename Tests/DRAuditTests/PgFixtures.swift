import DRAuditCore
import Foundation

@testable import DRAudit

/// A repository written by the real tools: PostgreSQL 15 backed up by pgBackRest 2.45 (posix repository, gzip,
/// stanza `apic`): a full backup, a table created, then an incremental. Made once per test run (tens of seconds),
/// in its own folder, by a cluster of its own on a free port; tests copy it before changing anything.
enum RealPgBackRest {
    struct Repository: Sendable {
        /// The repository root (holds `backup/apic` and `archive/apic`).
        let root: URL
        let full: String
        let incremental: String
        /// Each backup's `backup-timestamp-stop`.
        let fullStop: Date
        let incrementalStop: Date
    }

    static let pgBin = "/usr/lib/postgresql/15/bin"

    /// The repository, or why it could not be made (a test needing it then fails, naming the cause).
    static func repository() throws -> Repository { try made.get() }

    nonisolated(unsafe) private static let made: Result<Repository, Error> = Result { try make() }

    private static func make() throws -> Repository {
        guard FileManager.default.isExecutableFile(atPath: pgBin + "/initdb"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/pgbackrest")
        else {
            throw DRAuditError(
                "PostgreSQL 15 and pgbackrest are needed for the real-repository tests (apt install postgresql-15 pgbackrest)"
            )
        }
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "dr-audit-pgbackrest-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        atexit { RealPgBackRest.removeFixtures() }
        created.append(dir.path)
        try run("/bin/chown", ["postgres:postgres", dir.path])
        let port = PrivateSSHD.freePort()
        let conf = dir.appendingPathComponent("pgbackrest.conf").path
        try """
        [global]
        repo1-path=\(dir.path)/repo
        repo1-retention-full=9
        log-level-console=error
        log-level-file=off
        lock-path=\(dir.path)/lock
        start-fast=y
        compress-type=gz

        [apic]
        pg1-path=\(dir.path)/data
        pg1-port=\(port)
        pg1-socket-path=\(dir.path)

        """.write(toFile: conf, atomically: true, encoding: .utf8)
        try asPostgres(pgBin + "/initdb", ["-D", dir.path + "/data", "-A", "trust", "--no-sync"])
        let settings = """

            port = \(port)
            unix_socket_directories = '\(dir.path)'
            listen_addresses = ''
            archive_mode = on
            archive_command = 'pgbackrest --config=\(conf) --stanza=apic archive-push %p'
            wal_level = replica
            fsync = off

            """
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent("data/postgresql.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(settings.utf8))
        try handle.close()
        try asPostgres(pgBin + "/pg_ctl", ["-D", dir.path + "/data", "-l", dir.path + "/pg.log", "-w", "start"])
        defer { try? asPostgres(pgBin + "/pg_ctl", ["-D", dir.path + "/data", "-m", "fast", "-w", "stop"]) }
        let backrest = ["--config=\(conf)", "--stanza=apic"]
        try asPostgres("/usr/bin/pgbackrest", backrest + ["stanza-create"])
        try asPostgres("/usr/bin/pgbackrest", backrest + ["--type=full", "backup"])
        try asPostgres(
            "/usr/bin/psql",
            [
                "-h", dir.path, "-p", "\(port)", "-d", "postgres", "-q", "-c",
                "CREATE TABLE nodes AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 20000) g",
            ])
        try asPostgres("/usr/bin/pgbackrest", backrest + ["--type=incr", "backup"])
        let info = try String(
            contentsOf: dir.appendingPathComponent("repo/backup/apic/backup.info"), encoding: .utf8)
        let entries = try PgBackRest.parseInfo(info)
        guard entries.count == 2, let full = entries.first(where: { $0.type == "full" }),
            let incremental = entries.first(where: { $0.type == "incr" })
        else { throw DRAuditError("pgbackrest wrote an unexpected backup.info: \(entries.map(\.label))") }
        return Repository(
            root: dir.appendingPathComponent("repo"), full: full.label, incremental: incremental.label,
            fullStop: full.stop, incrementalStop: incremental.stop)
    }

    nonisolated(unsafe) private static var created: [String] = []

    static func removeFixtures() {
        for path in created { try? FileManager.default.removeItem(atPath: path) }
    }

    private static func asPostgres(_ tool: String, _ arguments: [String]) throws {
        try run("/usr/sbin/runuser", ["-u", "postgres", "--", tool] + arguments)
    }

    /// Runs a tool to its end, output to a file. posix_spawn and waitpid rather than Foundation's Process, which
    /// learns of a child's end through a descriptor the child inherits: the server pg_ctl starts inherits it too,
    /// and the wait would last as long as the server.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let log = NSTemporaryDirectory() + "dr-audit-run-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // From /tmp: the postgres user may not enter the test's working folder.
        let argv = (["/bin/sh", "-c", "cd /tmp && exec \"$0\" \"$@\"", tool] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        guard rc == 0 else { throw DRAuditError("cannot run \(tool): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        // Exited normally with status 0 (the wait status's low 7 bits are the signal, the next 8 the exit code).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw DRAuditError(
                "\((tool as NSString).lastPathComponent) \(arguments.suffix(2).joined(separator: " ")) failed: \(text.prefix(400))"
            )
        }
        return text
    }
}
