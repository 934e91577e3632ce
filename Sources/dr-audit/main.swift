import ArgumentParser
import DRAudit
import DRAuditCore
import Foundation
import Logging

/// Exit codes: audit status 0 ok, 1 warn, 2 fail; 3 when dr-audit could not run.
let couldNotRun: Int32 = 3

struct Options: ParsableArguments {
    @Option(name: .long, help: "The dr-audit.yaml config file.")
    var config: String = "dr-audit.yaml"

    @Flag(name: .long, help: "Log what happens to stderr.")
    var verbose = false

    func workspace() throws -> Workspace {
        var logger = Logger(label: "dr-audit")
        logger.logLevel = verbose ? .info : .warning
        return try Workspace(configPath: config, logger: logger)
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

/// The clock of the commands that judge the index.
struct NowOption: ParsableArguments {
    @Option(help: "Judge as of this RFC 3339 time (default: now).")
    var now: String?

    func at() throws -> Date { try parseNow(now) }
}

func parseNow(_ text: String?) throws -> Date {
    guard let text else { return Date() }
    guard let date = UTC.parseRFC3339(text) else {
        throw DRAuditError("--now '\(text)' is not an RFC 3339 time (2026-11-25T02:00:00Z)")
    }
    return date
}

/// One line on stderr, with control and bidi characters escaped: error messages name files, keys and sites.
func printErr(_ line: String) {
    FileHandle.standardError.write(Data((DisplayText.escape(line) + "\n").utf8))
}

/// Every command's stdout goes through `StandardOutput`, whose writes are checked (a full disk is exit 3, not a
/// truncated plan with exit 0); this `print` shadows the standard library's in this file. Callers escape names
/// (`DisplayText.escape`, as the table renderers do): what is printed here is printed as it is.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    StandardOutput.write(items.map { "\($0)" }.joined(separator: separator) + terminator)
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan every backup target and cluster export into the index.")
    @OptionGroup var options: Options

    func run() throws {
        let workspace = try options.workspace()
        let tty = isatty(STDERR_FILENO) == 1
        let reports = try workspace.scan(progress: tty ? { printErr("… \($0)") } : nil)
        var failed = false
        for report in reports {
            if let counts = report.counts {
                print(
                    "\(report.source): \(DisplayText.escape(report.location)): \(counts.seen) \(report.source == "cluster" ? "records" : "objects"), \(counts.added) new, \(counts.gone) gone (scan \(counts.scanID))"
                )
            } else {
                failed = true
                printErr("dr-audit: \(report.source) scan failed: \(report.error?.message ?? "unknown error")")
            }
        }
        if failed { throw ExitCode(couldNotRun) }
    }
}

struct Pairs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List restorable point-in-time pairs of management and portal backups.")
    @OptionGroup var options: Options
    @OptionGroup var clock: NowOption
    @Option(help: "table or json.")
    var format: OutputFormat = .table
    @Option(help: "Largest management-to-portal distance, e.g. 30m (default: the config's pairing.tolerance).")
    var tolerance: String?

    func run() throws {
        let workspace = try options.workspace()
        let at = try clock.at()
        var override: TimeInterval?
        if let tolerance {
            do { override = try DurationText.read(tolerance) } catch {
                throw DRAuditError("--tolerance '\(tolerance)' \(error.reason)")
            }
        }
        let input = try workspace.auditInput(now: at, tolerance: override, withDeployment: false)
        let result = Audit.assess(input).pairing
        switch format {
        case .json: Render.pairsJSON(result, now: at, tolerance: input.policy.tolerance) { print($0, terminator: "") }
        case .table: print(Render.pairsTable(result, tolerance: input.policy.tolerance), terminator: "")
        }
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check DR readiness; exit 0 ok, 1 warn, 2 fail, 3 could not run.")
    @OptionGroup var options: Options
    @OptionGroup var clock: NowOption
    @Option(help: "table or json.")
    var format: OutputFormat = .table

    func run() throws {
        let workspace = try options.workspace()
        let at = try clock.at()
        let assessment = Audit.assess(try workspace.auditInput(now: at))
        try workspace.index.recordAudit(now: at, status: assessment.status.rawValue, findings: assessment.findings)
        switch format {
        case .json: print(Render.auditJSON(assessment, now: at), terminator: "")
        case .table: print(Render.auditTable(assessment), terminator: "")
        }
        throw ExitCode(assessment.status.exitCode)
    }
}

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Write Prometheus textfile metrics (atomically replaced) for the node exporter's textfile collector.")
    @OptionGroup var options: Options
    @OptionGroup var clock: NowOption
    @Option(help: "The .prom file to write.")
    var output: String

    func run() throws {
        let workspace = try options.workspace()
        let at = try clock.at()
        let assessment = Audit.assess(try workspace.auditInput(now: at))
        let summary = try workspace.index.verificationSummary()
        try Workspace.writeAtomically(
            Metrics.render(
                assessment, sources: try workspace.sourceMetrics(), now: at,
                verification: .init(byOutcome: summary.byOutcome, lastCheckedAt: summary.lastCheckedAt)), to: output)
    }
}

struct RestorePlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-plan",
        abstract:
            "Print the ManagementRestore and PortalRestore CRs for a restorable pair, with the DR steps and open checks."
    )
    @OptionGroup var options: Options
    @Option(help: "latest, or an RFC 3339 time: the newest pair restoring to a point not after it.")
    var at: String = "latest"
    @OptionGroup var clock: NowOption

    func run() throws {
        let workspace = try options.workspace()
        let judged = try clock.at()
        var target: Date?
        if at != "latest" {
            guard let t = UTC.parseRFC3339(at) else {
                throw DRAuditError("--at '\(at)' is neither latest nor an RFC 3339 time")
            }
            target = t
        }
        let input = try workspace.auditInput(now: judged)
        let assessment = Audit.assess(input)
        let pair: Pair
        do { pair = try RestorePlan.choose(assessment.pairing.pairs, at: target) } catch {
            throw DRAuditError("restore-plan: \(error)")
        }
        print(
            try RestorePlan.render(
                .init(
                    pair: pair, portalCR: input.deployment.portalCR, managementCR: input.deployment.managementCR,
                    portalRecords: input.portalRecords, managementRecords: input.managementRecords,
                    openFindings: assessment.findings)), terminator: "")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Read the chosen pair's backups end to end (gzip, tar, pgBackRest manifests); exit 0 ok, 1 warn, 2 fail, 3 could not run."
    )
    @OptionGroup var options: Options
    @Option(help: "latest (default), all, or an RFC 3339 time: the newest pair restoring to a point not after it.")
    var pair: String?
    @Option(help: "Verify N objects (or P% of them) of all pairs, the least recently verified first.")
    var sample: String?
    @Flag(help: "Also read every management file: pgBackRest checksums, barman-cloud tars.")
    var deep = false
    @Option(help: "Objects read at once, each with its own connection (default 4).")
    var jobs: Int = 4
    @OptionGroup var clock: NowOption
    @Option(help: "table or json.")
    var format: OutputFormat = .table

    func run() throws {
        let workspace = try options.workspace()
        var request = VerifyRequest(now: try clock.at())
        guard (1...64).contains(jobs) else { throw DRAuditError("--jobs \(jobs) is not between 1 and 64") }
        request.jobs = jobs
        if let pair {
            guard let parsed = VerifySelection.Pairs.parse(pair) else {
                throw DRAuditError("--pair '\(pair)' is neither latest, all nor an RFC 3339 time")
            }
            request.pairs = parsed
        }
        if let sample {
            guard let parsed = VerifySelection.Sample.parse(sample) else {
                throw DRAuditError("--sample '\(sample)' is neither a count (20) nor a percentage (5%)")
            }
            request.sample = parsed
        }
        request.deep = deep
        let tty = isatty(STDERR_FILENO) == 1
        var progress: (@Sendable (Verifier.Progress) -> Void)?
        if tty {
            progress = { p in
                let line =
                    "\r\u{1B}[K… verify: \(Render.bytes(p.bytes)) read, \(Render.bytes(Int64(p.rate)))/s, \(p.objectsLeft) objects left"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        let report: VerifyReport
        do {
            report = try workspace.verify(request, progress: progress)
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        } catch {
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            throw error
        }
        switch format {
        case .json: print(Render.verifyJSON(report, now: request.now), terminator: "")
        case .table: print(Render.verifyTable(report), terminator: "")
        }
        throw ExitCode(report.status.exitCode)
    }
}

enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case markdown, html, json }

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write a compliance report: verdict, pairs, findings, per-site coverage and a timeline (HTML: inline SVG).")
    @OptionGroup var options: Options
    @OptionGroup var clock: NowOption
    @Option(help: "markdown, html or json.")
    var format: ReportFormat = .markdown
    @Option(help: "The file to write (replaced atomically).")
    var output: String

    func run() throws {
        let workspace = try options.workspace()
        let at = try clock.at()
        let input = try workspace.auditInput(now: at)
        let report = Report(
            assessment: Audit.assess(input), now: at, policy: input.policy, managementBackups: input.managementBackups,
            verification: input.verification)
        let text: String
        switch format {
        case .markdown: text = report.markdown()
        case .html: text = report.html()
        case .json: text = report.json()
        }
        try Workspace.writeAtomically(text, to: output)
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build a sample APIC backup environment in a temp folder, scan and audit it.")
    @Option(help: "Folder to build it in (default: a new temp folder).")
    var output: String?
    @OptionGroup var clock: NowOption

    func run() throws {
        let now = try clock.at()
        let dir = URL(
            fileURLWithPath: output ?? NSTemporaryDirectory()
                + "dr-audit-demo-\(ProcessInfo.processInfo.processIdentifier)")
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("dr-audit.sqlite").path) {
            throw DRAuditError("demo: \(dir.path) already holds a demo; give a new --output folder")
        }
        let config = try SampleEnvironment.write(to: dir, options: .init(now: now))
        print("Sample environment: \(dir.path)")
        print(
            """
              21 nightly runs at 01:00 UTC; day -5 misses a portal site, day -8's management backup was interrupted,
              day -12's management backup ran 3.5 h late, and the portal share holds one stray file. WAL is archived
              every 5 minutes (so runs pair by point-in-time recovery), but two segments went missing on day -16.
              One site archive of day -15 has a flipped byte that only reading it can find (dr-audit verify).

            """)
        let workspace = try Workspace(configPath: config.path)
        print("$ dr-audit scan --config \(config.path)")
        for report in try workspace.scan() {
            if let c = report.counts {
                print(
                    "\(report.source): \(c.seen) \(report.source == "cluster" ? "records" : "objects"), \(c.added) new, \(c.gone) gone"
                )
            } else {
                print("\(report.source): scan failed: \(report.error?.message ?? "")")
            }
        }
        print("\n$ dr-audit verify --config \(config.path) --pair all --deep")
        var request = VerifyRequest(now: now)
        request.pairs = .all
        request.deep = true
        let verified = try workspace.verify(request)
        var shown = verified
        shown.results = verified.results.filter { $0.outcome != .ok }
        let table = Render.verifyTable(shown)
        print(
            table.replacingOccurrences(
                of: "(\(shown.results.count) results",
                with: "(\(verified.results.count) results, \(shown.results.count) not ok"
            ), terminator: "")
        let assessment = Audit.assess(try workspace.auditInput(now: now))
        try workspace.index.recordAudit(now: now, status: assessment.status.rawValue, findings: assessment.findings)
        print("\n$ dr-audit pairs --config \(config.path)")
        print(Render.pairsTable(assessment.pairing, tolerance: workspace.config.policy.tolerance))
        print("$ dr-audit audit --config \(config.path)")
        print(Render.auditTable(assessment))
        print(
            "Exit code of audit would be \(assessment.status.exitCode) (\(assessment.status.rawValue)). Try the commands above yourself."
        )
    }
}

struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Save the DR kit from the live cluster: the subsystem CRs as applyable YAML, the backup and encryption Secrets (0600 in a 0700 folder) and a dr-audit.yaml that audits against them.",
        discussion:
            "Needs only the config's cluster: section (and portal.crName/management.crName where the namespace holds several installations). A second run into the same folder replaces the files atomically and says what changed since the last save (DR-relevant fields; Secrets only as changed)."
    )
    @OptionGroup var options: Options
    @Option(help: "The kit folder (made, or tightened to, 0700).")
    var output: String
    @Flag(help: "Write everything but the Secrets.")
    var noSecrets = false

    func run() throws {
        let lines = try KitSaver.save(
            .init(
                config: URL(fileURLWithPath: options.config), output: URL(fileURLWithPath: output),
                secrets: !noSecrets))
        for line in lines { print(line) }
    }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a commented starter dr-audit.yaml, filled from the CR and Secret files given, or a template.",
        discussion:
            "For users without cluster access: give the PortalCluster, ManagementCluster or APIConnectCluster YAML (kubectl get … -o yaml) and the Secrets they name; the config points at them and explains each key."
    )
    @Argument(help: "CR files (PortalCluster, ManagementCluster, APIConnectCluster) and the Secret files they name.")
    var files: [String] = []
    @Option(help: "The config to write.")
    var output: String = "dr-audit.yaml"
    @Flag(help: "Replace an existing file.")
    var force = false

    func run() throws {
        let lines = try StarterConfig.write(
            .init(
                files: files.map { URL(fileURLWithPath: $0) }, output: URL(fileURLWithPath: output), force: force))
        for line in lines { print(line) }
    }
}

struct DRAuditCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dr-audit",
        abstract: "Checks that IBM API Connect management and portal backups can be restored together.",
        version: Version.text,
        subcommands: [
            Scan.self, Pairs.self, AuditCommand.self, VerifyCommand.self, MetricsCommand.self, RestorePlanCommand.self,
            ReportCommand.self,
            Save.self, Init.self, Demo.self,
        ])
}

// Every failure, a usage error too, is one line on stderr and exit 3.
LoggingSystem.bootstrap(EscapingLogHandler.init)

// What a command printed is flushed, and checked, before its exit code stands.
do {
    var command = try DRAuditCLI.parseAsRoot()
    do { try command.run() } catch let code as ExitCode {
        try StandardOutput.finish()
        throw code
    }
    try StandardOutput.finish()
} catch let error as DRAuditError {
    try? StandardOutput.finish()
    printErr("dr-audit: \(error.message)")
    exit(couldNotRun)
} catch let code as ExitCode {
    exit(code.rawValue)
} catch {
    try? StandardOutput.finish()
    let exitCode = DRAuditCLI.exitCode(for: error)
    if exitCode == .success {
        print(DRAuditCLI.fullMessage(for: error))
        do { try StandardOutput.finish() } catch {
            printErr("dr-audit: \(DRAuditError.oneLine(error))")
            exit(couldNotRun)
        }
        exit(0)
    }
    // A usage error too is one line (a cron log keeps it whole); escaped, as it may quote an argument.
    let lines = DRAuditCLI.message(for: error).split(separator: "\n").map {
        DisplayText.escape($0.trimmingCharacters(in: .whitespaces))
    }.filter { !$0.isEmpty }
    printErr("dr-audit: \(lines.isEmpty ? "invalid arguments" : lines.joined(separator: "; ")) (see dr-audit --help)")
    exit(couldNotRun)
}
