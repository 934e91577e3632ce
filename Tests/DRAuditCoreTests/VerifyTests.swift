import Foundation
import Testing

@testable import DRAuditCore

/// A pgBackRest manifest as pgBackRest 2.45 writes one (sections and keys of a real one, fewer files).
func manifestText(
    label: String, prior: String? = nil, references: [String]? = nil, compress: String = "gz",
    files: [String], extraBackup: String = "", extraSections: String = ""
) -> String {
    """
    [backrest]
    backrest-format=5
    backrest-version="2.45"

    [backup]
    backup-archive-start="000000010000000000000004"
    backup-archive-stop="000000010000000000000004"
    backup-label="\(label)"
    \(prior.map { "backup-prior=\"\($0)\"\n" } ?? "")backup-reference="\((references ?? [label]).joined(separator: ","))"
    backup-timestamp-start=1795622757
    backup-timestamp-stop=1795622759
    backup-type="\(prior == nil ? "full" : "incr")"
    \(extraBackup)
    [backup:option]
    option-compress=true
    option-compress-type="\(compress)"
    option-online=true

    [target:file]
    \(files.joined(separator: "\n"))

    [target:file:default]
    group="postgres"
    mode="0600"
    user="postgres"
    \(extraSections)
    """
}

/// A manifest file line for `content` stored gzip-compressed.
func fileLine(_ name: String, _ content: Data, reference: String? = nil, repoSize: Int? = nil) -> String {
    let stored = Deflate.compress(content)
    var json =
        "{\"checksum\":\"\(SHA1.hex(content))\",\(reference.map { "\"reference\":\"\($0)\"," } ?? "")\"repo-size\":\(repoSize ?? stored.count),\"size\":\(content.count),\"timestamp\":1795622742}"
    if content.isEmpty {
        json =
            "{\(reference.map { "\"reference\":\"\($0)\"," } ?? "")\"repo-size\":\(stored.count),\"size\":0,\"timestamp\":1}"
    }
    return "\(name)=\(json)"
}

let fullLabel = "20261118-010000F"
let incrLabel = "20261118-010000F_20261119-010000I"

func mgmt(_ id: String, prior: String? = nil) -> ManagementBackup {
    ManagementBackup(
        id: id, format: .pgbackrest, type: prior == nil ? "full" : "incr", start: utc("2026-11-19T01:00:00Z"),
        stop: utc("2026-11-19T01:05:00Z"), prior: prior, status: .complete,
        infoKey: "backup/apic/backup.info")
}

/// Runs a plan's checks over stored objects held in memory, in odd-sized chunks.
func runChecks(_ plan: ManagementPlan, _ objects: [String: Data]) -> [CheckOutcome] {
    plan.checks.map { check in
        let reader = CheckReader(check)
        let data = objects[check.key]!
        data.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count && !reader.isDone {
                let end = min(raw.count, start + 1009)
                reader.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                start = end
            }
        }
        return reader.finish()
    }
}

struct ManifestTests {
    @Test func theManifestNamesItsChainCompressionAndFiles() throws {
        let m = try PgBackRestManifest.parse(
            manifestText(
                label: incrLabel, prior: fullLabel, references: [fullLabel, incrLabel],
                files: [
                    fileLine("pg_data/PG_VERSION", Data("15\n".utf8), reference: fullLabel),
                    fileLine("pg_data/backup_label", Data("label".utf8)),
                    fileLine("pg_data/base/1/13394", Data(), reference: fullLabel),
                ]))
        #expect(m.label == incrLabel)
        #expect(m.prior == fullLabel)
        #expect(m.references == [fullLabel, incrLabel])
        #expect(m.compressType == "gz")
        #expect(m.archiveStart == "000000010000000000000004")
        #expect(m.files.count == 3)
        #expect(m.files[0].reference == fullLabel)
        #expect(m.files[0].checksum == SHA1.hex(Data("15\n".utf8)))
        #expect(m.files[1].reference == nil)
        #expect(m.files[2].checksum == nil)
        #expect(m.files[2].size == 0)
    }

    @Test func aFileNameHoldingAnEqualsSignIsSplitWherePgBackRestSplitsIt() throws {
        let m = try PgBackRestManifest.parse(
            manifestText(label: fullLabel, files: [fileLine("pg_data/odd=name", Data("x".utf8))]))
        #expect(m.files.map(\.name) == ["pg_data/odd=name"])
    }

    @Test func olderManifestsSayOnlyWhetherTheyCompress() throws {
        let text = manifestText(label: fullLabel, files: [fileLine("pg_data/a", Data("x".utf8))])
            .replacingOccurrences(of: "option-compress-type=\"gz\"\n", with: "")
        #expect(try PgBackRestManifest.parse(text).compressType == "gz")
    }

    @Test func encryptedOrBrokenManifestsAreRefusedWithTheLine() {
        #expect(throws: PgBackRestManifest.ParseError.encrypted) {
            try PgBackRestManifest.parse("Salted__\u{1}\u{2}\u{3}\u{4}\u{5}\u{6}\u{7}\u{8} ciphertext")
        }
        #expect(throws: PgBackRestManifest.ParseError.empty) { try PgBackRestManifest.parse("") }
        let broken = manifestText(label: fullLabel, files: ["pg_data/a={\"size\":\"big\"}"])
        #expect(throws: PgBackRestManifest.ParseError.self) { try PgBackRestManifest.parse(broken) }
        do {
            _ = try PgBackRestManifest.parse(broken)
        } catch {
            #expect("\(error)".hasPrefix("line 20: file pg_data/a: size is not a size"))
        }
        #expect(throws: PgBackRestManifest.ParseError.self) {
            try PgBackRestManifest.parse("[backup]\nbackup-label=\"x\"\n")  // no [target:file]
        }
    }
}

struct PgBackRestPlanTests {
    let full = Data(String(repeating: "full page ", count: 900).utf8)
    let changed = Data(String(repeating: "changed page ", count: 700).utf8)

    func repository() -> (manifest: PgBackRestManifest, objects: [String: Data]) {
        let m = try! PgBackRestManifest.parse(
            manifestText(
                label: incrLabel, prior: fullLabel, references: [fullLabel, incrLabel],
                files: [
                    fileLine("pg_data/base/1/1259", full, reference: fullLabel),
                    fileLine("pg_data/base/1/2600", changed),
                    fileLine("pg_data/base/1/13394", Data(), reference: fullLabel),
                ]))
        let objects = [
            "backup/apic/\(fullLabel)/pg_data/base/1/1259.gz": Deflate.compress(full),
            "backup/apic/\(incrLabel)/pg_data/base/1/2600.gz": Deflate.compress(changed),
            "backup/apic/\(fullLabel)/pg_data/base/1/13394.gz": Deflate.compress(Data()),
        ]
        return (m, objects)
    }

    func listing(_ objects: [String: Data]) -> [String: Int64] { objects.mapValues { Int64($0.count) } }

    @Test func everyFileIsWhereItsReferenceSaysWithItsRepoSize() {
        let (m, objects) = repository()
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic",
            listing: listing(objects), deep: false)
        #expect(plan.problems.isEmpty)
        #expect(plan.checks.isEmpty)
        #expect(plan.files == 3)
        let results = plan.results([], checkedAt: utc("2026-11-19T02:00:00Z"), bytesRead: 100)
        #expect(results.map(\.outcome) == [.ok])
        #expect(results[0].subject == incrLabel)
    }

    @Test func aFileMissingFromTheFullBreaksTheFullAndTheIncremental() {
        let (m, objects) = repository()
        var present = listing(objects)
        present["backup/apic/\(fullLabel)/pg_data/base/1/1259.gz"] = nil
        // The file is still in the incremental's folder: a wrong place does not count.
        present["backup/apic/\(incrLabel)/pg_data/base/1/1259.gz"] = 10
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic", listing: present,
            deep: false)
        #expect(plan.problems.map(\.code) == ["MGMT_FILE_MISSING"])
        #expect(plan.problems[0].backupID == fullLabel)
        let results = plan.results([], checkedAt: utc("2026-11-19T02:00:00Z"), bytesRead: 0)
        #expect(results.map(\.subject) == [incrLabel, fullLabel])
        #expect(results.allSatisfy { $0.outcome == .failed && $0.code == "MGMT_FILE_MISSING" })
        #expect(results[0].detail?.contains("pg_data/base/1/1259 is not in the repository") == true)
        #expect(results[1].detail?.hasPrefix("found verifying \(incrLabel): ") == true)
    }

    @Test func aStoredFileOfAnotherSizeThanItsRepoSizeIsReported() {
        let (m, objects) = repository()
        var present = listing(objects)
        present["backup/apic/\(incrLabel)/pg_data/base/1/2600.gz"]! -= 1
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic", listing: present,
            deep: false)
        #expect(plan.problems.count == 1)
        #expect(plan.problems[0].message.contains("the manifest records repo-size"))
    }

    @Test func deepReadsCompareEveryFilesSHA1() {
        let (m, objects) = repository()
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic",
            listing: listing(objects), deep: true)
        #expect(plan.checks.count == 3)
        let outcomes = runChecks(plan, objects)
        #expect(outcomes.allSatisfy { $0.problems.isEmpty })
        let results = plan.results(outcomes, checkedAt: utc("2026-11-19T02:00:00Z"), bytesRead: 1)
        #expect(results.map(\.outcome) == [.ok])
        #expect(results[0].contentBytes == Int64(full.count + changed.count))
    }

    @Test func aChecksumMismatchNamesTheFileAndBothDigests() {
        let (m, original) = repository()
        var objects = original
        // Same size, other content: only the SHA-1 tells.
        var other = full
        other[100] = UInt8(ascii: "X")
        objects["backup/apic/\(fullLabel)/pg_data/base/1/1259.gz"] = Deflate.compress(other)
        var present = listing(objects)
        present["backup/apic/\(fullLabel)/pg_data/base/1/1259.gz"] = Int64(m.files[0].repoSize!)
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic", listing: present,
            deep: true)
        // The listing says the size is right (a same-size overwrite); reading finds the content wrong.
        let outcomes = runChecks(plan, objects)
        let problems = outcomes.flatMap(\.problems)
        #expect(problems.map(\.code) == ["MGMT_CHECKSUM_MISMATCH"])
        #expect(problems[0].backupID == fullLabel)
        #expect(problems[0].message.contains(SHA1.hex(other)))
        #expect(problems[0].message.contains(SHA1.hex(full)))
    }

    @Test func aCorruptGzipFileCannotBeDecoded() {
        let (m, original) = repository()
        var objects = original
        let key = "backup/apic/\(incrLabel)/pg_data/base/1/2600.gz"
        objects[key]![30] ^= 0xff
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic",
            listing: listing(objects), deep: true)
        let problems = runChecks(plan, objects).flatMap(\.problems)
        #expect(problems.map(\.code) == ["MGMT_CHECKSUM_MISMATCH"])
        #expect(problems[0].message.contains("cannot be decoded"))
    }

    @Test func bundledFilesAreFoundInTheirBundleAndReadSliceBySlice() throws {
        let a = Data(String(repeating: "a", count: 5000).utf8)
        let b = Data(String(repeating: "bcd", count: 3000).utf8)
        let sa = Deflate.compress(a)
        let sb = Deflate.compress(b)
        let bundle = sa + sb
        let lines = [
            "pg_data/a={\"bni\":1,\"checksum\":\"\(SHA1.hex(a))\",\"repo-size\":\(sa.count),\"size\":\(a.count),\"timestamp\":1}",
            "pg_data/b={\"bni\":1,\"bno\":\(sa.count),\"checksum\":\"\(SHA1.hex(b))\",\"repo-size\":\(sb.count),\"size\":\(b.count),\"timestamp\":1}",
        ]
        let m = try PgBackRestManifest.parse(
            manifestText(label: fullLabel, files: lines, extraBackup: "backup-bundle=true\n"))
        let key = "backup/apic/\(fullLabel)/bundle/1"
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(fullLabel), manifest: m, stanzaFolder: "backup/apic", listing: [key: Int64(bundle.count)],
            deep: true)
        #expect(plan.problems.isEmpty)
        #expect(plan.checks.count == 1)
        #expect(runChecks(plan, [key: bundle]).flatMap(\.problems).isEmpty)
        // A bundle cut short: the listing already tells.
        let short = ManagementPlan.pgBackRest(
            backup: mgmt(fullLabel), manifest: m, stanzaFolder: "backup/apic", listing: [key: Int64(sa.count + 10)],
            deep: false)
        #expect(short.problems.map(\.code) == ["MGMT_FILE_MISSING"])
    }

    @Test func encryptedFilesAndOtherCompressionsAreSkippedWithAReason() throws {
        let (_, objects) = repository()
        let encrypted = try PgBackRestManifest.parse(
            manifestText(
                label: incrLabel, prior: fullLabel, files: [fileLine("pg_data/base/1/2600", changed)],
                extraSections: "\n[cipher]\ncipher-pass=\"secret-subpass\"\n"))
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: encrypted, stanzaFolder: "backup/apic",
            listing: listing(objects), deep: true)
        #expect(plan.checks.isEmpty)
        #expect(plan.skipped.count == 1)
        #expect(plan.skipped[0].hasPrefix("the repository is encrypted"))
        let result = plan.results([], checkedAt: utc("2026-11-19T02:00:00Z"), bytesRead: 0)[0]
        #expect(result.outcome == .ok)
        #expect(result.skipped?.contains("encrypted") == true)
        #expect(!result.skipped!.contains("secret-subpass"))

        let lz4 = try PgBackRestManifest.parse(
            manifestText(label: fullLabel, compress: "lz4", files: [fileLine("pg_data/a", full)]))
        let lz4Plan = ManagementPlan.pgBackRest(
            backup: mgmt(fullLabel), manifest: lz4, stanzaFolder: "backup/apic",
            listing: ["backup/apic/\(fullLabel)/pg_data/a.lz4": Int64(Deflate.compress(full).count)], deep: true)
        #expect(lz4Plan.problems.isEmpty)
        #expect(lz4Plan.skipped.first?.hasPrefix("lz4 compression") == true)
    }

    @Test func theConsistencyWALSeamAddsSegmentChecks() {
        let (m, objects) = repository()
        let plan = ManagementPlan.pgBackRest(
            backup: mgmt(incrLabel, prior: fullLabel), manifest: m, stanzaFolder: "backup/apic",
            listing: listing(objects), deep: true)
        let segment = Deflate.compress(Data(count: 4096))
        let key = "archive/apic/15-1/0000000100000000/000000010000000000000004-abc.gz"
        let withWAL = plan.appendingWAL([
            (name: "000000010000000000000004", key: key, size: Int64(segment.count)),
            (name: "000000010000000000000005", key: nil, size: nil),
        ])
        #expect(withWAL.checks.count == plan.checks.count + 1)
        #expect(
            withWAL.problems.map(\.message) == [
                "consistency WAL segment 000000010000000000000005 is not in the archive"
            ])
        var all = objects
        all[key] = segment.prefix(segment.count - 3)
        let outcomes = runChecks(withWAL, all)
        #expect(outcomes.last?.problems.first?.code == "ARCHIVE_CORRUPT")
    }

    @Test func theConsistencyWALIsFoundInTheArchiveFoldersListing() {
        let sha = String(repeating: "a", count: 40)
        var backup = mgmt(fullLabel, prior: nil)
        backup.wal = WALRange(
            archive: "archive/apic/15-1", start: WALSegment.parse("0000000100000000000000FF")!,
            stop: WALSegment.parse("000000010000000100000001")!)
        var plan = ManagementPlan(backup: backup, deep: true)
        #expect(
            plan.consistencyWALFolders == [
                "archive/apic/15-1/0000000100000000/", "archive/apic/15-1/0000000100000001/",
            ])
        let segments = plan.consistencyWAL(in: [
            "archive/apic/15-1/0000000100000000/0000000100000000000000FF-\(sha).gz": 10,
            "archive/apic/15-1/0000000100000001/000000010000000100000000-\(sha).gz": 0,  // empty: not archived
            "archive/apic/15-1/0000000100000001/000000010000000100000001-\(sha).gz": 12,
            "archive/apic/15-1/0000000100000001/000000010000000100000001.partial-\(sha).gz": 12,
        ])
        #expect(
            segments.map(\.name) == [
                "0000000100000000000000FF", "000000010000000100000000", "000000010000000100000001",
            ])
        #expect(segments.map { $0.key != nil } == [true, false, true])
        #expect(plan.appendingWAL(segments).problems.count == 1)
        backup.archiveCopy = true
        var carried = ManagementPlan(backup: backup, deep: true)
        #expect(carried.consistencyWAL(in: [:]).isEmpty && carried.consistencyWALFolders.isEmpty)
        #expect(carried.skipped.first?.contains("option-archive-copy") == true)
    }
}

struct BarmanPlanTests {
    let base = "mgmt/pg-server/base/20261125T160649"
    let backup = ManagementBackup(
        id: "mgmt/pg-server/20261125T160649", format: .barman, type: "full", start: utc("2026-11-25T16:06:49Z"),
        stop: utc("2026-11-25T16:07:37Z"), prior: nil, status: .complete)

    @Test func theTablespacesLineGivesTheOIDs() {
        #expect(Barman.parseTablespaceOIDs("None") == [])
        #expect(
            Barman.parseTablespaceOIDs("[('tbs1', 16385, '/data/tbs1'), (\"it's\", 16386, '/x')]") == [16385, 16386])
        #expect(Barman.parseTablespaceOIDs("[('a', 1, '/x')") == nil)
        let info = try! Barman.parseInfo(
            "status=DONE\nsize=None\ntablespaces=[('tbs1', 16385, '/data/tbs1')]\nbackup_id=20261125T160649\n")
        #expect(info.tablespaceOIDs == [16385])
        #expect(info.size == nil)
    }

    @Test func theDataTarItsPartsAndEveryTablespaceTarMustBePresent() {
        let tar = Deflate.compress(TarWriter.archive([(name: "PG_VERSION", data: Data("15\n".utf8))]))
        let listing: [String: Int64] = [
            "\(base)/backup.info": 1139, "\(base)/data.tar.gz": Int64(tar.count),
            "\(base)/data_0001.tar.gz": Int64(tar.count), "\(base)/16385.tar": 10240,
        ]
        let plan = ManagementPlan.barman(
            backup: backup, tablespaces: [16385, 16390], size: nil, baseFolder: base, listing: listing, deep: true)
        #expect(plan.files == 3)
        #expect(plan.problems.map(\.message) == ["the tar of tablespace 16390 (16390.tar*) is not in \(base)"])
        #expect(plan.checks.map(\.key) == ["\(base)/data.tar.gz", "\(base)/data_0001.tar.gz", "\(base)/16385.tar"])
        let outcomes = runChecks(
            plan,
            [
                "\(base)/data.tar.gz": tar, "\(base)/data_0001.tar.gz": tar.prefix(tar.count - 1),
                "\(base)/16385.tar": TarWriter.archive([]),
            ])
        #expect(outcomes.map { $0.problems.map(\.code) } == [[], ["ARCHIVE_CORRUPT"], []])
    }

    @Test func otherCompressionsAreOnlyCheckedForPresence() {
        let plan = ManagementPlan.barman(
            backup: backup, tablespaces: [], size: nil, baseFolder: base, listing: ["\(base)/data.tar.bz2": 100],
            deep: true)
        #expect(plan.problems.isEmpty)
        #expect(plan.checks.isEmpty)
        #expect(
            plan.skipped == ["bz2 compression: the tar was not read (dr-audit reads .tar and .tar.gz), only presence"])
    }

    @Test func tarsHoldingLessThanTheRecordedSizeAreShort() {
        let tar = TarWriter.archive([(name: "base/1/1259", data: Data(count: 1000))])
        let plan = ManagementPlan.barman(
            backup: backup, tablespaces: [], size: 5000, baseFolder: base,
            listing: ["\(base)/data.tar": Int64(tar.count)], deep: true)
        let results = plan.results(runChecks(plan, ["\(base)/data.tar": tar]), checkedAt: Date(), bytesRead: 0)
        #expect(results[0].outcome == .failed)
        #expect(results[0].detail == "the tars hold 1000 bytes of files; backup.info records size 5000")
    }
}

struct VerificationJudgementTests {
    let now = utc("2026-01-03T09:00:00Z")

    func input() -> AuditInput {
        var input = AuditInput(now: now, policy: PairingPolicy())
        input.portalFiles = run("2026-01-02T01:00:00Z", sites: [siteA]) + run("2026-01-03T01:00:00Z", sites: [siteA])
        let f = full("2026-01-02T01:04:00Z")
        input.managementBackups = [f, incr("2026-01-03T01:04:00Z", on: f, full: f)]
        return input
    }

    func result(_ role: Role, _ subject: String, _ outcome: VerificationResult.Outcome, code: String? = nil)
        -> VerificationResult
    {
        VerificationResult(
            role: role, subject: subject, outcome: outcome, code: code, detail: "gzip member 1: invalid block type",
            checkedAt: now, deep: false)
    }

    @Test func aCorruptArchiveInTheNewestPairFailsAndThatPairIsNoLongerRestorable() {
        var input = input()
        let newest = Audit.assess(input).pairing.pairs[0]
        input.verification.latest = [result(.portal, newest.run.system!.key, .failed, code: "ARCHIVE_CORRUPT")]
        let a = Audit.assess(input)
        let corrupt = a.findings.filter { $0.code == "ARCHIVE_CORRUPT" }
        #expect(corrupt.map(\.severity) == [.fail])
        #expect(corrupt[0].subject == newest.run.system!.key)
        #expect(a.pairing.pairs.count == 1)
        #expect(a.pairing.pairs[0].restorePoint < newest.restorePoint)
        #expect(a.status == .fail)
    }

    @Test func aCorruptArchiveInAnOlderPairWarns() {
        var input = input()
        let older = Audit.assess(input).pairing.pairs[1]
        input.verification.latest = [result(.portal, older.run.system!.key, .failed, code: "ARCHIVE_CORRUPT")]
        let a = Audit.assess(input)
        #expect(a.findings.filter { $0.code == "ARCHIVE_CORRUPT" }.map(\.severity) == [.warn])
        #expect(a.pairing.pairs.count == 1)
        #expect(a.status == .warn)
    }

    @Test func aFullThatFailedVerificationBreaksItsIncrementals() {
        var input = input()
        let fullID = input.managementBackups[0].id
        input.verification.latest = [result(.management, fullID, .failed, code: "MGMT_FILE_MISSING")]
        let a = Audit.assess(input)
        #expect(a.pairing.pairs.isEmpty)
        // The full is in the newest pair's chain: the worst kind.
        #expect(a.findings.filter { $0.code == "MGMT_FILE_MISSING" }.map(\.severity) == [.fail])
        #expect(a.findings.contains { $0.code == "NO_RESTORABLE_PAIR" })
    }

    @Test func theNewestPairNeverVerifiedOrTooLongAgoIsStale() {
        var input = input()
        let newest = Audit.assess(input).pairing.pairs[0]
        let stale = Audit.assess(input).findings.filter { $0.code == "VERIFY_STALE" }
        #expect(stale.map(\.severity) == [.info])
        #expect(stale[0].message.contains("was never verified"))

        let everything = ([newest.run.system!] + newest.run.siteFiles).map { $0.key }
        input.verification.latest =
            everything.map { result(.portal, $0, .ok) } + [result(.management, newest.management.id, .ok)]
        #expect(!Audit.assess(input).findings.contains { $0.code == "VERIFY_STALE" })

        input.verification.latest[0].checkedAt = now.addingTimeInterval(-8 * 86400)
        let old = Audit.assess(input).findings.filter { $0.code == "VERIFY_STALE" }
        #expect(old.first?.message.contains("more than 7d ago") == true)

        input.verification.latest.removeLast()
        let partly = Audit.assess(input).findings.filter { $0.code == "VERIFY_STALE" }
        #expect(partly.first?.message.hasPrefix("1 of the 3 objects") == true)
    }

    @Test func skippedChecksAreSaidOncePerReason() {
        var input = input()
        let files = input.portalFiles
        input.verification.latest = files.map {
            var r = result(.portal, $0.key, .skipped)
            r.skipped = Verification.notGzipReason
            return r
        }
        let skipped = Audit.assess(input).findings.filter { $0.code == "VERIFY_SKIPPED" }
        #expect(skipped.count == 1)
        #expect(skipped[0].severity == .info)
        #expect(skipped[0].message.hasPrefix("4 verified portal objects: no portal archive starts with the gzip magic"))
    }

    @Test func portalArchivesThatAreNotGzipAreSkippedOnlyWhenNoneIs() {
        let files = run("2026-01-02T01:00:00Z", sites: [siteA])
        let notGzip = ArchiveSummary(
            bytes: 10, members: 0, uncompressedBytes: 0, entries: 0, contentBytes: 0,
            problem: StreamProblem(.notGzip, at: 0, "does not start with the gzip magic bytes 1f 8b"))
        let good = ArchiveSummary(
            bytes: 100, members: 1, uncompressedBytes: 10240, entries: 3, contentBytes: 900, problem: nil)
        let none = Verification.portalResults(files.map { ($0, notGzip) }, checkedAt: now, deep: false)
        #expect(none.map(\.outcome) == [.skipped, .skipped])
        #expect(none[0].skipped == Verification.notGzipReason)
        let mixed = Verification.portalResults([(files[0], good), (files[1], notGzip)], checkedAt: now, deep: false)
        #expect(mixed.map(\.outcome) == [.ok, .failed])
        #expect(mixed[1].code == "ARCHIVE_CORRUPT")
    }
}

struct VerifySelectionTests {
    let now = utc("2026-01-05T09:00:00Z")

    func pairs() -> [Pair] {
        var input = AuditInput(now: now, policy: PairingPolicy())
        input.portalFiles = (2...4).flatMap { run("2026-01-0\($0)T01:00:00Z", sites: [siteA, siteB]) }
        input.managementBackups = (2...4).map { full("2026-01-0\($0)T01:04:00Z") }
        return Audit.assess(input).pairing.pairs
    }

    @Test func latestAtAndAllPickPairs() throws {
        let pairs = pairs()
        #expect(try VerifySelection.pairs(pairs, .latest).map(\.restorePoint) == [utc("2026-01-04T01:04:00Z")])
        #expect(
            try VerifySelection.pairs(pairs, .at(utc("2026-01-03T12:00:00Z"))).map(\.restorePoint) == [
                utc("2026-01-03T01:04:00Z")
            ])
        #expect(try VerifySelection.pairs(pairs, .all).count == 3)
        #expect(throws: VerifySelection.SelectionError.self) {
            try VerifySelection.pairs(pairs, .at(utc("2025-12-01T00:00:00Z")))
        }
        #expect(throws: VerifySelection.SelectionError.noPairs) { try VerifySelection.pairs([], .latest) }
        #expect(VerifySelection.Pairs.parse("latest") == .latest)
        #expect(VerifySelection.Pairs.parse("yesterday") == nil)
    }

    @Test func aPairsSubjectsAreItsManagementBackupThenEveryPortalFileOnce() {
        let subjects = VerifySelection.subjects(of: pairs())
        #expect(subjects.count == 3 + 9)
        #expect(subjects.prefix(3).allSatisfy { $0.role == .management })
        #expect(Set(subjects.map(\.name)).count == 12)
    }

    @Test func samplesTakeTheLeastRecentlyVerifiedFirst() {
        let subjects = VerifySelection.subjects(of: pairs())
        #expect(VerifySelection.Sample.parse("5") == .count(5))
        #expect(VerifySelection.Sample.parse("25%") == .percent(25))
        #expect(VerifySelection.Sample.parse("0") == nil)
        #expect(VerifySelection.Sample.parse("101%") == nil)
        #expect(VerifySelection.Sample.percent(25).size(of: 12) == 3)
        #expect(VerifySelection.Sample.percent(1).size(of: 12) == 1)
        var verified: [VerifySelection.Subject: Date] = [:]
        for subject in subjects.prefix(10) { verified[subject] = now }
        var generator = SystemRandomNumberGenerator()
        let picked = VerifySelection.sample(subjects, .count(4), lastVerified: verified, using: &generator)
        #expect(picked.count == 4)
        // The two never verified come first, then two of the others at random.
        #expect(Set(picked.prefix(2)) == Set(subjects.suffix(2)))
        // Over nights, everything gets its turn.
        var seen: Set<VerifySelection.Subject> = []
        var last: [VerifySelection.Subject: Date] = [:]
        for night in 0..<3 {
            for s in VerifySelection.sample(subjects, .count(4), lastVerified: last, using: &generator) {
                seen.insert(s)
                last[s] = now.addingTimeInterval(Double(night) * 86400)
            }
        }
        #expect(seen.count == 12)
    }
}

struct SizeDropTests {
    @Test func aPortalFileUnderHalfItsSitesMedianIsReported() {
        var files: [PortalBackupFile] = []
        for day in 1...9 {
            files += run("2026-01-0\(day)T01:00:00Z", sites: [siteA, siteB])
        }
        for i in files.indices { files[i].size = 1000 + Int64(i % 3) * 10 }
        // Day 9: site A's file lost its content; site B's shrank by a third (not a drop).
        let a = files.firstIndex { $0.site == siteA && $0.time > utc("2026-01-09T00:00:00Z") }!
        let b = files.firstIndex { $0.site == siteB && $0.time > utc("2026-01-09T00:00:00Z") }!
        files[a].size = 300
        files[b].size = 700
        let findings = SizeDrop.findings(portal: PortalInventory(files), management: [])
        #expect(findings.map(\.subject) == [files[a].key])
        #expect(findings[0].severity == .warn)
        #expect(
            findings[0].message.contains("under half the median (1010 bytes) of site \(siteA)'s previous 7 backups"))
    }

    @Test func fewBackupsEmptyFilesAndTheSystemBackup() {
        var files =
            run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-03T01:00:00Z", sites: [siteA]) + run("2026-01-04T01:00:00Z", sites: [siteA])
        for i in files.indices { files[i].size = 5000 }
        files[6].size = 100  // the fourth system backup, after three of 5000 bytes
        files[7].size = 0  // empty: OBJECT_EMPTY's business, not this rule's
        let findings = SizeDrop.findings(portal: PortalInventory(files), management: [])
        #expect(findings.map(\.subject) == [files[6].key])
        #expect(findings[0].message.contains("the system backup's previous 3 backups"))
        // With only two earlier backups there is no median to speak of.
        #expect(SizeDrop.findings(portal: PortalInventory(Array(files.prefix(4)) + [files[6]]), management: []).isEmpty)
    }

    @Test func aFullUnderHalfThePreviousFullIsReported() {
        var a = full("2026-01-01T01:00:00Z")
        var b = full("2026-01-08T01:00:00Z")
        var c = full("2026-01-15T01:00:00Z")
        a.size = 20_000_000
        b.size = 19_000_000
        c.size = 6_000_000
        var i = incr("2026-01-16T01:00:00Z", on: c, full: c)
        i.size = 100
        let findings = SizeDrop.findings(portal: PortalInventory(), management: [a, b, c, i])
        #expect(findings.map(\.subject) == ["management \(c.id)"])
        #expect(findings[0].message.contains("under half the previous full backup \(b.id) (19000000 bytes)"))
    }
}
