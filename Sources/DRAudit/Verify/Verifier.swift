import DRAuditCore
import Foundation

/// Reads the objects of a verification end to end with a few workers at once, each with its own connection to
/// each target, and records every result in the index as soon as it is known: a run cut short (a dropped
/// connection) keeps what it found. Memory is a stream buffer and a decoder per worker, whatever the objects' sizes.
public final class Verifier: @unchecked Sendable {
    public struct Progress: Sendable {
        public var bytes: Int64
        public var seconds: Double
        /// Objects queued or being read.
        public var objectsLeft: Int
        public var rate: Double { seconds > 0 ? Double(bytes) / seconds : 0 }
    }

    let index: Index
    let makeTarget: @Sendable (Role) throws -> StorageTarget
    let deep: Bool
    let now: Date
    let jobs: Int
    let progress: (@Sendable (Progress) -> Void)?
    /// Bytes read by the last `run`, metadata included.
    public private(set) var bytesRead: Int64 = 0

    public init(
        index: Index, deep: Bool, now: Date, jobs: Int, progress: (@Sendable (Progress) -> Void)? = nil,
        makeTarget: @escaping @Sendable (Role) throws -> StorageTarget
    ) {
        self.index = index
        self.deep = deep
        self.now = now
        self.jobs = max(1, jobs)
        self.progress = progress
        self.makeTarget = makeTarget
    }

    /// Verifies `subjects` (each with its present version in the index). Returns every result recorded; throws the
    /// first target or index error after the workers have stopped (results recorded until then stay).
    public func run(_ subjects: [(subject: VerifySelection.Subject, version: Int64)]) throws -> [VerificationResult] {
        let run = Run(
            versions: Dictionary(subjects.map { ($0.subject.name, $0.version) }, uniquingKeysWith: { a, _ in a }))
        run.add(
            subjects.map {
                switch $0.subject {
                case .portal(let file): return .portal(file)
                case .management(let backup): return .plan(backup)
                case .walSegment(let segment): return .wal(segment)
                }
            })
        let started = Date()
        let ticker = progress.map { report in
            Thread {
                while !run.waitFinished(seconds: 1) {
                    report(run.snapshot(since: started))
                }
            }
        }
        ticker?.start()
        let group = DispatchGroup()
        for _ in 0..<jobs {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                var targets: [Role: StorageTarget] = [:]
                func target(_ role: Role) throws -> StorageTarget {
                    if let made = targets[role] { return made }
                    let made = try makeTarget(role)
                    targets[role] = made
                    return made
                }
                while let task = run.next() {
                    do { try perform(task, run: run, target: target) } catch { run.fail(error) }
                    run.done()
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        // Portal archives that are not gzip: judged together, once every archive's first bytes are known.
        let held = run.takeHeld()
        if !held.isEmpty {
            let results = Verification.portalResults(
                held, checkedAt: now, deep: deep, anyGzip: run.sawGzip ? true : nil)
            do {
                try index.recordVerifications(results, versions: run.versions)
                run.append(results)
            } catch { run.fail(error) }
        }
        run.finish()
        let last = run.snapshot(since: started)
        bytesRead = last.bytes
        progress?(last)
        if let failure = run.failure { throw failure }
        return run.results
    }

    enum Task {
        case portal(PortalBackupFile)
        case plan(ManagementBackup)
        case check(PlanState, ObjectCheck)
        case wal(ReplayWAL.Segment)
    }

    /// A management backup's checks in flight, and what they found so far.
    final class PlanState: @unchecked Sendable {
        let plan: ManagementPlan
        private let lock = NSLock()
        private var outcomes: [CheckOutcome] = []
        private var remaining: Int
        private(set) var bytes: Int64
        init(plan: ManagementPlan, bytes: Int64) {
            self.plan = plan
            self.bytes = bytes
            remaining = plan.checks.count
        }
        /// Adds one check's outcome; returns every outcome once the last one is in.
        func add(_ outcome: CheckOutcome, bytes read: Int64) -> [CheckOutcome]? {
            lock.lock()
            defer { lock.unlock() }
            outcomes.append(outcome)
            bytes += read
            remaining -= 1
            return remaining == 0 ? outcomes : nil
        }
    }

    // MARK: - Work

    private func perform(_ task: Task, run: Run, target: (Role) throws -> StorageTarget) throws {
        switch task {
        case .portal(let file):
            try verifyPortal(file, run: run, target: try target(.portal))
        case .plan(let backup):
            try plan(backup, run: run, target: try target(.management))
        case .check(let state, let check):
            try runCheck(check, state: state, run: run, target: try target(.management))
        case .wal(let segment):
            try verifyWAL(segment, run: run, target: try target(.management))
        }
    }

    /// A segment a point-in-time pair replays: its gzip stream read whole.
    private func verifyWAL(_ segment: ReplayWAL.Segment, run: Run, target: StorageTarget) throws {
        var outcome: CheckOutcome?
        var read: Int64 = 0
        if segment.key.hasSuffix(".gz") {
            let check = ObjectCheck.gzipStream(key: segment.key, size: segment.size, backupID: segment.key)
            guard let whole = try readWhole(check, run: run, target: target) else { return }
            (outcome, read) = whole
        }
        let result = Verification.walResult(segment, outcome, bytesRead: read, checkedAt: now)
        try index.recordVerifications([result], versions: run.versions)
        run.append([result])
    }

    private func verifyPortal(_ file: PortalBackupFile, run: Run, target: StorageTarget) throws {
        let checker = ArchiveChecker(.tarGzip)
        var stoppedForOthers = false
        let read = try target.stream(file.key) { chunk in
            run.count(chunk.count)
            do { try checker.feed(chunk) } catch { return false }
            if run.isFailed {
                stoppedForOthers = true
                return false
            }
            return true
        }
        if stoppedForOthers && checker.problem == nil { return }  // no verdict on half an object
        let summary = checker.finish()
        if summary.problem == nil || summary.problem?.kind == .truncated {
            try sameSize(read, file.size, key: file.key, target: target)
        }
        if summary.problem?.kind == .notGzip {
            run.hold(file, summary)
            return
        }
        run.sawGzipArchive()
        let results = Verification.portalResults([(file, summary)], checkedAt: now, deep: deep, anyGzip: true)
        try index.recordVerifications(results, versions: run.versions)
        run.append(results)
    }

    /// A whole read must come to the listed size: otherwise the object changed since the scan, or the transfer was
    /// cut short without an error. Neither is evidence about the backup.
    private func sameSize(_ read: Int64, _ listed: Int64, key: String, target: StorageTarget) throws {
        guard read != listed else { return }
        throw DRAuditError(
            "\(target.location): \(key): read \(read) bytes, the last scan listed \(listed); it changed since the scan (run dr-audit scan) or the transfer was cut",
            code: "TARGET_UNREACHABLE")
    }

    private func plan(_ backup: ManagementBackup, run: Run, target: StorageTarget) throws {
        guard let infoKey = backup.infoKey else {
            throw DRAuditError(
                "management \(backup.id): the index does not say where its backup.info is; run dr-audit scan")
        }
        let folder = (infoKey as NSString).deletingLastPathComponent
        var plan: ManagementPlan
        var bytes: Int64 = 0
        switch backup.format {
        case .pgbackrest:
            let own = try index.presentObjects(source: Role.management.rawValue, prefix: "\(folder)/\(backup.id)/")
            let manifest: PgBackRestManifest
            switch try readManifest(backup, folder: folder, listing: own, run: run, target: target) {
            case .manifest(let m, let read):
                manifest = m
                bytes = read
            case .result(let result):
                try index.recordVerifications([result], versions: run.versions)
                run.append([result])
                return
            case .stopped:
                return
            }
            var listing = own
            for label in Set(manifest.files.compactMap(\.reference)) where label != backup.id {
                listing.merge(
                    try index.presentObjects(source: Role.management.rawValue, prefix: "\(folder)/\(label)/"),
                    uniquingKeysWith: { a, _ in a })
            }
            plan = ManagementPlan.pgBackRest(
                backup: backup, manifest: manifest, stanzaFolder: folder, listing: listing, deep: deep)
        case .barman:
            let text = try target.read(infoKey, limit: Scanner.metadataLimit)
            bytes = Int64(text.count)
            run.count(text.count)
            let info = try? Barman.parseInfo(String(decoding: text, as: UTF8.self))
            let listing = try index.presentObjects(source: Role.management.rawValue, prefix: "\(folder)/")
            plan = ManagementPlan.barman(
                backup: backup, tablespaces: info?.tablespaceOIDs ?? [], size: info?.size, baseFolder: folder,
                listing: listing, deep: deep)
            if info?.tablespaceOIDs == nil {
                plan.skipped.append("backup.info's tablespaces line does not parse: only data.tar* was looked for")
            }
        }
        // The consistency WAL, whatever the form: present (from the index), and with --deep read whole.
        var listing: [String: Int64] = [:]
        for folder in plan.consistencyWALFolders {
            listing.merge(
                try index.presentObjects(source: Role.management.rawValue, prefix: folder),
                uniquingKeysWith: { a, _ in a })
        }
        let segments = plan.consistencyWAL(in: listing)
        plan = plan.appendingWAL(segments)
        let state = PlanState(plan: plan, bytes: bytes)
        if plan.checks.isEmpty {
            try finish(state, outcomes: [], run: run)
        } else {
            run.add(plan.checks.map { .check(state, $0) })
        }
    }

    enum ManifestRead {
        case manifest(PgBackRestManifest, bytes: Int64)
        case result(VerificationResult)
        case stopped
    }

    /// `backup.manifest`, or its `.copy` when the original is missing, empty or unreadable (as pgBackRest does).
    private func readManifest(
        _ backup: ManagementBackup, folder: String, listing: [String: Int64], run: Run, target: StorageTarget
    ) throws -> ManifestRead {
        var problems: [String] = []
        var bytes: Int64 = 0
        for name in ["backup.manifest", "backup.manifest.copy"] {
            let key = "\(folder)/\(backup.id)/\(name)"
            guard let size = listing[key], size > 0 else {
                problems.append("\(name) is \(listing[key] == nil ? "missing" : "empty")")
                continue
            }
            let parser = PgBackRestManifest.Parser()
            var failure: Error?
            var stopped = false
            let read = try target.stream(key) { chunk in
                run.count(chunk.count)
                do { try parser.feed(chunk) } catch {
                    failure = error
                    return false
                }
                if run.isFailed {
                    stopped = true
                    return false
                }
                return true
            }
            bytes += read
            if stopped { return .stopped }
            if failure == nil {
                try sameSize(read, size, key: key, target: target)
                do { return .manifest(try parser.finish(), bytes: bytes) } catch { failure = error }
            }
            if case .encrypted? = failure as? PgBackRestManifest.ParseError {
                return .result(
                    VerificationResult(
                        role: .management, subject: backup.id, outcome: .skipped,
                        detail: "\(key) is encrypted",
                        skipped:
                            "the repository is encrypted (repo-cipher-type is not none): manifests cannot be read without the passphrase, only backup.info and the listing were checked",
                        checkedAt: now, deep: deep, bytesRead: bytes))
            }
            problems.append("\(name): \(failure.map { "\($0)" } ?? "unreadable")")
        }
        let missing = !listing.keys.contains {
            $0.hasSuffix("/backup.manifest") || $0.hasSuffix("/backup.manifest.copy")
        }
        return .result(
            VerificationResult(
                role: .management, subject: backup.id, outcome: .failed,
                code: missing ? "MGMT_FILE_MISSING" : "ARCHIVE_CORRUPT", detail: problems.joined(separator: "; "),
                checkedAt: now, deep: deep, bytesRead: bytes))
    }

    private func runCheck(_ check: ObjectCheck, state: PlanState, run: Run, target: StorageTarget) throws {
        guard let (outcome, read) = try readWhole(check, run: run, target: target) else { return }
        if let outcomes = state.add(outcome, bytes: read) {
            try finish(state, outcomes: outcomes, run: run)
        }
    }

    /// Streams one object through its check; nil when another worker's failure stopped the read (no verdict on
    /// half an object).
    private func readWhole(_ check: ObjectCheck, run: Run, target: StorageTarget) throws -> (CheckOutcome, Int64)? {
        let reader = CheckReader(check)
        var stoppedForOthers = false
        let read = try target.stream(check.key) { chunk in
            run.count(chunk.count)
            reader.feed(chunk)
            if reader.isDone { return false }
            if run.isFailed {
                stoppedForOthers = true
                return false
            }
            return true
        }
        if stoppedForOthers { return nil }
        if !reader.isDone { try sameSize(read, check.size, key: check.key, target: target) }
        return (reader.finish(), read)
    }

    private func finish(_ state: PlanState, outcomes: [CheckOutcome], run: Run) throws {
        let results = state.plan.results(outcomes, checkedAt: now, bytesRead: state.bytes)
        try index.recordVerifications(results, versions: run.versions)
        run.append(results)
    }

    // MARK: - Shared state

    /// The work queue and what the workers found, behind one lock.
    final class Run: @unchecked Sendable {
        let versions: [String: Int64]
        private let condition = NSCondition()
        private var queue: [Task] = []
        private var head = 0
        private var outstanding = 0
        private var finished = false
        private(set) var failure: DRAuditError?
        private(set) var results: [VerificationResult] = []
        private var held: [(PortalBackupFile, ArchiveSummary)] = []
        private(set) var sawGzip = false
        private var bytes: Int64 = 0

        init(versions: [String: Int64]) { self.versions = versions }

        func add(_ tasks: [Task]) {
            condition.lock()
            queue += tasks
            outstanding += tasks.count
            condition.broadcast()
            condition.unlock()
        }

        /// The next task; nil when everything is done or a worker failed.
        func next() -> Task? {
            condition.lock()
            defer { condition.unlock() }
            while head == queue.count && outstanding > 0 && failure == nil { condition.wait() }
            guard failure == nil, head < queue.count else { return nil }
            let task = queue[head]
            head += 1
            if head > 4096 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return task
        }

        func done() {
            condition.lock()
            outstanding -= 1
            condition.broadcast()
            condition.unlock()
        }

        func fail(_ error: Error) {
            condition.lock()
            if failure == nil {
                failure =
                    (error as? DRAuditError) ?? DRAuditError(DRAuditError.oneLine(error), code: "TARGET_UNREACHABLE")
            }
            condition.broadcast()
            condition.unlock()
        }

        var isFailed: Bool {
            condition.lock()
            defer { condition.unlock() }
            return failure != nil
        }

        func count(_ n: Int) {
            condition.lock()
            bytes += Int64(n)
            condition.unlock()
        }

        func append(_ new: [VerificationResult]) {
            condition.lock()
            results += new
            condition.unlock()
        }

        func hold(_ file: PortalBackupFile, _ summary: ArchiveSummary) {
            condition.lock()
            held.append((file, summary))
            condition.unlock()
        }

        func sawGzipArchive() {
            condition.lock()
            sawGzip = true
            condition.unlock()
        }

        func takeHeld() -> [(file: PortalBackupFile, summary: ArchiveSummary)] {
            condition.lock()
            defer { condition.unlock() }
            let out = held
            held = []
            return out.map { (file: $0.0, summary: $0.1) }
        }

        func finish() {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }

        /// Waits up to `seconds` for the end of the run; true once it has ended.
        func waitFinished(seconds: Double) -> Bool {
            condition.lock()
            defer { condition.unlock() }
            let deadline = Date().addingTimeInterval(seconds)
            while !finished && condition.wait(until: deadline) {}
            return finished
        }

        func snapshot(since started: Date) -> Progress {
            condition.lock()
            defer { condition.unlock() }
            return Progress(bytes: bytes, seconds: Date().timeIntervalSince(started), objectsLeft: outstanding)
        }
    }
}
