import DRAuditCore
import Foundation
import Testing

@testable import DRAudit

/// `dr-audit verify` end to end: the real binary on generated trees, the real sshd and SeaweedFS, and a repository
/// written by the real pgBackRest.
@Suite(.serialized)
struct VerifyCLITests {
    func environment(_ options: SampleEnvironment.Options = sampleOptions(), name: String = #function) throws -> (
        TempDir, String
    ) {
        let dir = try TempDir(name)
        let config = try SampleEnvironment.write(to: dir.url, options: options)
        let scan = try cli(["scan", "--config", config.path])
        guard scan.status == 0 else { throw DRAuditError("scan failed: \(scan.stderr)") }
        return (dir, config.path)
    }

    @Test func theNewestPairIsReadEndToEndAndTheAuditKnowsIt() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        let before = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(before.stdout.contains("VERIFY_STALE"))

        let listed = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newest = try #require((try json(listed.stdout)["pairs"] as? [[String: Any]])?.first)
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let doc = try json(verify.stdout)
        #expect(doc["status"] as? String == "ok")
        #expect(doc["deep"] as? Bool == false)
        let pairs = try #require(doc["pairs"] as? [[String: Any]])
        #expect(pairs.map { $0["restorePoint"] as? String } == [newest["restorePoint"] as? String])
        let results = try #require(doc["results"] as? [[String: Any]])
        // The management backup the pair restores from, the system backup and three sites.
        #expect(results.count == 5)
        #expect(results.allSatisfy { $0["outcome"] as? String == "ok" })
        #expect(results.first?["role"] as? String == "management")
        #expect(results.first?["subject"] as? String == (newest["management"] as? [String: Any])?["id"] as? String)
        let system = try #require(results.first { ($0["subject"] as? String)?.hasPrefix("_portal_system") == true })
        #expect(system["entries"] as? Int == 2)
        #expect(system["contentBytes"] as? Int == 10240)
        #expect((doc["bytesRead"] as? Int ?? 0) > 1000)

        let after = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(!after.stdout.contains("VERIFY_STALE"))
        let rows: [Int] = try Index(path: dir.path("dr-audit.sqlite")).query("SELECT count(*) FROM verifications")
        #expect(rows == [5])
        // Eight days on, the same results are stale.
        let later = try cli(["audit", "--config", config, "--now", "2026-03-23T12:00:00Z", "--format", "json"])
        #expect(later.stdout.contains("VERIFY_STALE"))
    }

    @Test func anOldCorruptArchiveWarnsAndItsPairIsNoLongerRestorable() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        let before = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let pairsBefore = (try json(before.stdout)["pairs"] as? [Any])?.count ?? 0
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--pair", "all"])
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.hasPrefix("Verify: WARN"))
        // The sample flips a byte of a site archive of day -15 (2026-02-28).
        let failed = verify.stdout.split(separator: "\n").filter { $0.hasPrefix("FAILED") }
        #expect(failed.count == 1)
        #expect(failed.first?.contains("portal-web.think.org@e1@enterprise-20260228.010035.tar.gz") == true)
        #expect(failed.first?.contains("ARCHIVE_CORRUPT: gzip member 1:") == true)

        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 1)
        let findings = try #require(try json(audit.stdout)["findings"] as? [[String: String]])
        let corrupt = findings.filter { $0["code"] == "ARCHIVE_CORRUPT" }
        #expect(corrupt.map { $0["severity"] } == ["warn"])
        // The run of 2026-02-28 lost a site it should hold: it no longer pairs.
        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let after = try #require(try json(pairs.stdout)["pairs"] as? [[String: Any]])
        #expect(after.count == pairsBefore - 1)
        #expect(!after.contains { ($0["portal"] as? [String: Any])?["start"] as? String == "2026-02-28T01:00:05Z" })

        let metrics = dir.path("dr-audit.prom")
        #expect(try cli(["metrics", "--config", config, "--now", testNowText, "--output", metrics]).status == 0)
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("dr_audit_verified_objects{outcome=\"failed\"} 1"))
        #expect(prom.contains("dr_audit_verified_objects{outcome=\"ok\"} "))
        #expect(prom.contains("dr_audit_newest_pair_verified 1"))
        let report = dir.path("report.json")
        #expect(
            try cli(["report", "--config", config, "--now", testNowText, "--format", "json", "--output", report])
                .status == 0)
        let verification = try #require(
            try json(String(contentsOfFile: report, encoding: .utf8))["verification"] as? [String: Any])
        #expect(verification["failed"] as? Int == 1)
        #expect(verification["newestPairVerified"] as? Bool == true)
        let html = dir.path("report.html")
        #expect(
            try cli(["report", "--config", config, "--now", testNowText, "--format", "html", "--output", html])
                .status == 0)
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("<h2>Verification</h2>"))
    }

    @Test func aCorruptArchiveInTheNewestPairFails() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = [0]
        options.corruptedArchiveIndex = 0  // the system backup: without it the run cannot be restored
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        let verify = try cli(["verify", "--config", config, "--now", testNowText])
        #expect(verify.status == 2, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("fail      ARCHIVE_CORRUPT"))
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.status == 2)
        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newest = try #require((try json(pairs.stdout)["pairs"] as? [[String: Any]])?.first)
        let point = try #require(newest["restorePoint"] as? String)
        #expect(point < "2026-03-15T00:00:00Z")
        // The next verify reads what a restore would now use: the pair before.
        let next = try cli(["verify", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(next.status == 0)
        #expect((try json(next.stdout)["pairs"] as? [[String: Any]])?.first?["restorePoint"] as? String == point)
    }

    @Test func aCorruptSiteArchiveLeavesTheNewestRunIncomplete() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = [0]
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        let verify = try cli(["verify", "--config", config, "--now", testNowText])
        #expect(verify.status == 2, "\(verify.stdout)\(verify.stderr)")
        // The site is expected in the newest run (the run before held it): without its archive the run is
        // incomplete, and the newest pair is the day before's.
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        let findings = try #require(try json(audit.stdout)["findings"] as? [[String: String]])
        #expect(findings.contains { $0["code"] == "ARCHIVE_CORRUPT" && $0["severity"] == "fail" })
        #expect(findings.contains { $0["code"] == "PORTAL_SITE_MISSING" })
        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newest = try #require((try json(pairs.stdout)["pairs"] as? [[String: Any]])?.first)
        #expect((newest["restorePoint"] as? String ?? "") < "2026-03-15T00:00:00Z")
    }

    @Test func aFileMissingFromAFullBreaksEveryIncrementalBuiltOnIt() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: options).path
        // The full of 2026-03-01 stores PG_VERSION; the incrementals of the week after reference it.
        try FileManager.default.removeItem(
            at: dir.url.appendingPathComponent("storage/management/backup/apic/20260301-010000F/pg_data/PG_VERSION.gz"))
        #expect(try cli(["scan", "--config", config]).status == 0)
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--pair", "all", "--format", "json"])
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        let results = try #require(try json(verify.stdout)["results"] as? [[String: Any]])
        let failed = results.filter { $0["outcome"] as? String == "failed" }.compactMap { $0["subject"] as? String }
        #expect(failed.contains("20260301-010000F"))
        #expect(failed.contains { $0.hasPrefix("20260301-010000F_") })
        #expect(failed.allSatisfy { $0.hasPrefix("20260301-010000F") })
        let full = try #require(results.first { $0["subject"] as? String == "20260301-010000F" })
        #expect(full["code"] as? String == "MGMT_FILE_MISSING")
        #expect((full["detail"] as? String)?.contains("pg_data/PG_VERSION is not in the repository") == true)
        // No pair restores from that week's backups any more (their runs may still pair by recovering from an
        // earlier backup through the WAL).
        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let bases = try #require(try json(pairs.stdout)["pairs"] as? [[String: Any]]).compactMap {
            ($0["management"] as? [String: Any])?["id"] as? String
        }
        #expect(!bases.isEmpty)
        #expect(!bases.contains { $0.hasPrefix("20260301-010000F") })
    }

    /// The management backup the newest pair restores from (after a scan).
    func newestBase(_ config: String) throws -> String {
        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newest = try #require((try json(pairs.stdout)["pairs"] as? [[String: Any]])?.first)
        return try #require((newest["management"] as? [String: Any])?["id"] as? String)
    }

    @Test func aChecksumMismatchIsFoundOnlyByADeepRead() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        let base = try newestBase(config)
        // Same size, other content: the listing cannot tell.
        let file = dir.url.appendingPathComponent("storage/management/backup/apic/\(base)/pg_data/base/1/1259.gz")
        let original = try Data(contentsOf: file)
        var replacement = Data()
        // The page with one character of its stamp changed: same length and, for some change, same stored size.
        let ownStamp = String(base.suffix(16).dropLast())
        search: for position in 0..<15 {
            for letter in "abcdefghijklmnopqrstuvwxyz" {
                var stamp = Array(ownStamp)
                stamp[position] = letter
                replacement = Deflate.compress(
                    Data(String(repeating: "page of \(String(stamp)) ", count: 40).utf8))
                if replacement.count == original.count { break search }
            }
        }
        #expect(replacement.count == original.count)
        try replacement.write(to: file)
        #expect(try cli(["scan", "--config", config]).status == 0)
        let shallow = try cli(["verify", "--config", config, "--now", testNowText])
        #expect(shallow.status == 0, "\(shallow.stdout)")
        let deep = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--format", "json"])
        #expect(deep.status == 2, "\(deep.stdout)\(deep.stderr)")
        let results = try #require(try json(deep.stdout)["results"] as? [[String: Any]])
        #expect(results.first?["code"] as? String == "MGMT_CHECKSUM_MISMATCH")
        #expect((results.first?["detail"] as? String)?.contains("pg_data/base/1/1259") == true)
        #expect((results.first?["detail"] as? String)?.contains("the manifest records") == true)
    }

    /// The newest pair restores by point-in-time recovery: `--deep` reads every segment its replay needs after the
    /// base backup. One of them with a byte flipped (its archive time kept) fails, and from then on the archive has a
    /// hole there: the window ends before it and the newest pair pairs otherwise.
    @Test func aDeepReadOfAPointInTimePairReadsItsReplayedWALAndADamagedSegmentCutsTheWindow() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        let listed = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newest = try #require((try json(listed.stdout)["pairs"] as? [[String: Any]])?.first)
        let management = try #require(newest["management"] as? [String: Any])
        #expect(management["recovery"] as? String == "pitr")

        let shallow = try cli(["verify", "--config", config, "--now", testNowText, "--format", "json"])
        let shallowResults = try #require(try json(shallow.stdout)["results"] as? [[String: Any]])
        #expect(!shallowResults.contains { $0["role"] as? String == "wal" }, "read only with --deep")

        let clean = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--format", "json"])
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        let wal = try #require(try json(clean.stdout)["results"] as? [[String: Any]]).filter {
            $0["role"] as? String == "wal"
        }
        // The base backup stopped the night before; a segment every 5 minutes up to the point.
        #expect(wal.count > 250, "\(wal.count)")
        #expect(wal.allSatisfy { $0["outcome"] as? String == "ok" })
        let table = try cli(["verify", "--config", config, "--now", testNowText, "--deep"])
        #expect(table.stdout.contains("\(wal.count) replayed segments, each gzip stream whole"), "\(table.stdout)")

        let damaged = try #require(wal[wal.count / 2]["subject"] as? String)
        let file = dir.url.appendingPathComponent("storage/management/\(damaged)")
        let time = try FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as! Date
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: file)
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: file.path)
        #expect(try cli(["scan", "--config", config]).status == 0)

        let deep = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--format", "json"])
        #expect(deep.status == 2, "\(deep.stdout)\(deep.stderr)")
        let deepResults = try #require(try json(deep.stdout)["results"] as? [[String: Any]])
        let failed = try #require(deepResults.first { $0["outcome"] as? String == "failed" })
        #expect(failed["role"] as? String == "wal")
        #expect(failed["subject"] as? String == damaged)
        #expect(failed["code"] as? String == "ARCHIVE_CORRUPT")

        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        let findings = try #require(try json(audit.stdout)["findings"] as? [[String: String]])
        #expect(
            findings.contains {
                $0["code"] == "ARCHIVE_CORRUPT" && $0["subject"] == damaged && $0["severity"] == "fail"
            })
        let segment = try #require(WALPosition(key: damaged)).segment.name
        // The report names what failed as verify's JSON does.
        let reportFile = dir.path("report.json")
        #expect(
            try cli(["report", "--config", config, "--now", testNowText, "--format", "json", "--output", reportFile])
                .status == 0)
        let attention = try #require(
            (try json(String(contentsOfFile: reportFile, encoding: .utf8))["verification"] as? [String: Any])?[
                "attention"] as? [[String: Any]])
        #expect(attention.contains { $0["role"] as? String == "wal" && $0["subject"] as? String == damaged })
        #expect(
            findings.contains {
                $0["code"] == "MGMT_WAL_GAP" && $0["message"]!.contains("\(segment) failed verification")
            })
        let after = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newestAfter = try #require((try json(after.stdout)["pairs"] as? [[String: Any]])?.first)
        #expect(newestAfter["restorePoint"] as? String != newest["restorePoint"] as? String)

        // Repaired in place (same size and time, so the same object version): `all` reads the pairs as they would be
        // without earlier results, so the segment is read again, and the window and the newest pair come back.
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: file)
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: file.path)
        let again = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--pair", "all"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        let healed = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        let newestHealed = try #require((try json(healed.stdout)["pairs"] as? [[String: Any]])?.first)
        #expect(newestHealed["restorePoint"] as? String == newest["restorePoint"] as? String)
    }

    @Test func anEncryptedRepositoryIsSkippedWithAReason() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        // What pgBackRest writes with repo-cipher-type aes-256-cbc: OpenSSL's salted format.
        let folder = dir.url.appendingPathComponent("storage/management/backup/apic/\(try newestBase(config))")
        var encrypted = Data("Salted__".utf8)
        encrypted.append(Data((0..<200).map { _ in UInt8.random(in: 0...255) }))
        try encrypted.write(to: folder.appendingPathComponent("backup.manifest"))
        try encrypted.write(to: folder.appendingPathComponent("backup.manifest.copy"))
        #expect(try cli(["scan", "--config", config]).status == 0)
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--format", "json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let doc = try json(verify.stdout)
        let management = try #require((doc["results"] as? [[String: Any]])?.first)
        #expect(management["outcome"] as? String == "skipped")
        #expect((management["skipped"] as? String)?.hasPrefix("the repository is encrypted") == true)
        let findings = try #require(doc["findings"] as? [[String: String]])
        #expect(findings.map { $0["code"] } == ["VERIFY_SKIPPED"])
        #expect(findings.first?["severity"] == "info")
        let audit = try cli(["audit", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(audit.stdout.contains("VERIFY_SKIPPED"))
        #expect(!audit.stdout.contains("VERIFY_STALE"))
    }

    @Test func portalArchivesThatAreNotGzipAreSaidOnceAndCheckedForSizeOnly() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: options).path
        // A portal that encrypts its archives: no object starts with the gzip magic.
        let portal = dir.url.appendingPathComponent("storage/portal")
        for name in try FileManager.default.contentsOfDirectory(atPath: portal.path) where name.hasSuffix(".tar.gz") {
            try Data(repeating: 0x42, count: 4096).write(to: portal.appendingPathComponent(name))
        }
        #expect(try cli(["scan", "--config", config]).status == 0)
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let doc = try json(verify.stdout)
        let portalResults = (doc["results"] as? [[String: Any]])?.filter { $0["role"] as? String == "portal" } ?? []
        #expect(portalResults.count == 4)
        #expect(portalResults.allSatisfy { $0["outcome"] as? String == "skipped" })
        // Only the first bytes were read.
        #expect(portalResults.allSatisfy { ($0["bytesRead"] as? Int ?? .max) <= 4096 })
        let findings = try #require(doc["findings"] as? [[String: String]])
        #expect(findings.count == 1)
        #expect(findings.first?["message"]?.contains("no portal archive starts with the gzip magic") == true)
    }

    @Test func aBarmanCloudBackupsTarsAreReadAndItsTablespacesLookedFor() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        options.clusterExports = false
        let dir = try TempDir()
        let config = try SampleEnvironment.write(to: dir.url, options: options).path
        // The EDB era: barman-cloud's layout, backup.info as barman-cloud-backup 3.4 writes it.
        let management = dir.url.appendingPathComponent("storage/management")
        try FileManager.default.removeItem(at: management)
        let base = management.appendingPathComponent("mgmt/pg-server/base/20260315T010005")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        try """
        backup_id=20260315T010005
        begin_time=2026-03-15 01:00:05.079427+00:00
        begin_wal=000000010000000000000008
        end_time=2026-03-15 01:04:30.221138+00:00
        end_wal=000000010000000000000008
        error=None
        server_name=cloud
        size=None
        status=DONE
        tablespaces=[('apic_tbs', 16385, '/var/lib/postgresql/tbs')]
        timeline=1
        version=150018

        """.write(to: base.appendingPathComponent("backup.info"), atomically: true, encoding: .utf8)
        let pgdata = TarWriter.archive([
            (name: "PG_VERSION", data: Data("15\n".utf8)), (name: "base/1/1259", data: Data(count: 8192)),
        ])
        try Deflate.compress(pgdata).write(to: base.appendingPathComponent("data.tar.gz"))
        let tablespace = TarWriter.archive([(name: "PG_15_202209061/5/16390", data: Data(count: 16384))])
        try tablespace.write(to: base.appendingPathComponent("16385.tar"))
        // The WAL that makes it consistent (begin_wal to end_wal), archived by barman-cloud-wal-archive.
        let wals = management.appendingPathComponent("mgmt/pg-server/wals/0000000100000000")
        try FileManager.default.createDirectory(at: wals, withIntermediateDirectories: true)
        try Deflate.compress(Data(count: 16384)).write(to: wals.appendingPathComponent("000000010000000000000008.gz"))
        #expect(try cli(["scan", "--config", config]).status == 0)

        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--format", "json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let result = try #require((try json(verify.stdout)["results"] as? [[String: Any]])?.first)
        #expect(result["subject"] as? String == "mgmt/pg-server/20260315T010005")
        #expect(result["outcome"] as? String == "ok")
        #expect(result["entries"] as? Int == 3)  // data.tar.gz, the tablespace's tar and the consistency WAL segment

        var damaged = tablespace
        damaged[100] ^= 0x01  // the tar header's name: its checksum no longer adds up
        try damaged.write(to: base.appendingPathComponent("16385.tar"))
        let corrupt = try cli(["verify", "--config", config, "--now", testNowText, "--deep", "--format", "json"])
        #expect(corrupt.status == 2, "\(corrupt.stdout)")
        let failed = try #require((try json(corrupt.stdout)["results"] as? [[String: Any]])?.first)
        #expect(failed["code"] as? String == "ARCHIVE_CORRUPT")
        #expect((failed["detail"] as? String)?.contains("16385.tar: tar header at byte 0: checksum") == true)

        // The only pair is gone: `latest` has nothing left to read; `all` reads the pairs earlier failures removed.
        let none = try cli(["verify", "--config", config, "--now", testNowText])
        #expect(none.status == 3)
        try FileManager.default.removeItem(at: base.appendingPathComponent("16385.tar"))
        #expect(try cli(["scan", "--config", config]).status == 0)
        let missing = try cli(["verify", "--config", config, "--now", testNowText, "--pair", "all", "--format", "json"])
        #expect(missing.status == 2)
        let gone = try #require((try json(missing.stdout)["results"] as? [[String: Any]])?.first)
        #expect(gone["code"] as? String == "MGMT_FILE_MISSING")
        #expect((gone["detail"] as? String)?.contains("the tar of tablespace 16385 (16385.tar*) is not in") == true)

        // Repaired: the next read finds it whole, and the pair is back.
        try tablespace.write(to: base.appendingPathComponent("16385.tar"))
        #expect(try cli(["scan", "--config", config]).status == 0)
        let repaired = try cli(["verify", "--config", config, "--now", testNowText, "--pair", "all", "--deep"])
        #expect(repaired.status == 0, "\(repaired.stdout)")
        let pairs = try cli(["pairs", "--config", config, "--now", testNowText, "--format", "json"])
        #expect((try json(pairs.stdout)["pairs"] as? [Any])?.count == 1)
    }

    @Test func samplesCoverTheRetentionInTurn() throws {
        var options = sampleOptions()
        options.corruptedArchiveDaysAgo = []
        let (dir, config) = try environment(options)
        defer { withExtendedLifetime(dir) {} }
        var seen: Set<String> = []
        for night in 0..<5 {
            let verify = try cli([
                "verify", "--config", config, "--now", "2026-03-15T1\(night):00:00Z", "--sample", "20", "--format",
                "json",
            ])
            #expect([0, 1].contains(verify.status), "\(verify.stderr)")
            let results = try #require(try json(verify.stdout)["results"] as? [[String: Any]])
            #expect(results.count >= 20)
            seen.formUnion(results.compactMap { $0["subject"] as? String })
        }
        // 19 pairs: 19 management backups and 76 portal files, 95 objects; 5 nights of 20 cover them.
        #expect(seen.count >= 95)
        let pct = try cli(["verify", "--config", config, "--now", testNowText, "--sample", "5%", "--format", "json"])
        #expect((try json(pct.stdout)["results"] as? [Any])?.count ?? 0 >= 5)
        // With --deep the replayed WAL (thousands of segments) is a pool of its own: the backups keep their share.
        let deep = try cli([
            "verify", "--config", config, "--now", testNowText, "--sample", "20", "--deep", "--format", "json",
        ])
        let picked = try #require(try json(deep.stdout)["results"] as? [[String: Any]])
        #expect(picked.filter { $0["role"] as? String == "wal" }.count == 20)
        #expect(picked.filter { $0["role"] as? String != "wal" }.count == 20)
    }

    @Test func badOptionsAreOneLineErrors() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        for (arguments, text) in [
            (["--pair", "yesterday"], "--pair 'yesterday' is neither latest, all nor an RFC 3339 time"),
            (["--sample", "0"], "--sample '0' is neither a count (20) nor a percentage (5%)"),
            (["--sample", "150%"], "--sample '150%'"),
            (["--pair", "2020-01-01T00:00:00Z"], "no restorable pair restores to a point at or before 2020-01-01"),
        ] {
            let result = try cli(["verify", "--config", config, "--now", testNowText] + arguments)
            #expect(result.status == 3)
            #expect(result.stderr.contains(text), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        let unscanned = try TempDir()
        let fresh = try SampleEnvironment.write(to: unscanned.url, options: sampleOptions()).path
        let none = try cli(["verify", "--config", fresh, "--now", testNowText])
        #expect(none.status == 3)
        #expect(none.stderr.contains("there is no restorable pair to verify"))
    }

    @Test func aBadMaxAgeIsAConfigError() throws {
        let (dir, config) = try environment()
        defer { withExtendedLifetime(dir) {} }
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try (text + "verify:\n  maxAge: soon\n").write(toFile: config, atomically: true, encoding: .utf8)
        let audit = try cli(["audit", "--config", config, "--now", testNowText])
        #expect(audit.status == 3)
        #expect(audit.stderr.contains("verify.maxAge: 'soon' is not a duration"))
        try (text + "verify:\n  maxAge: 30d\n").write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try cli(["verify", "--config", config, "--now", testNowText]).status == 0)
        let later = try cli(["audit", "--config", config, "--now", "2026-03-23T12:00:00Z", "--format", "json"])
        #expect(!later.stdout.contains("VERIFY_STALE"))
    }
}

/// Remote targets: the test sshd and SeaweedFS, and what happens when they go away mid-stream.
@Suite(.serialized)
struct VerifyRemoteTests {
    /// The sample environment with its portal storage served by `portalTarget` (YAML lines of the target) and a
    /// secret for it; management stays local.
    func environment(
        portalTarget: String, secret: String, extra: String = "", copy: (URL) throws -> Void, name: String = #function
    ) throws -> (TempDir, String) {
        let dir = try TempDir(name)
        let config = try SampleEnvironment.write(to: dir.url, options: sampleOptions())
        try copy(dir.url.appendingPathComponent("storage/portal"))
        try secret.write(toFile: dir.path("portal-backup-secret.yaml"), atomically: true, encoding: .utf8)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "    protocol: local\n    path: ./storage/portal", with: portalTarget)
        text = text.replacingOccurrences(
            of: "  secret: ./portal-backup-secret.yaml", with: "  secret: ./portal-backup-secret.yaml\n\(extra)")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let scan = try cli(["scan", "--config", config.path])
        guard scan.status == 0 else { throw DRAuditError("scan failed: \(scan.stderr)") }
        return (dir, config.path)
    }

    func sftp(_ server: SSHServer, port: Int? = nil, name: String = #function) throws -> (TempDir, String, TempTree) {
        let tree = try server.tree(name)
        let (dir, config) = try environment(
            portalTarget:
                "    protocol: sftp\n    host: 127.0.0.1\n    port: \"\(port ?? server.port)\"\n    path: \(tree.path)",
            secret: secretYAML("portal-backup-secret", username: server.user, password: server.password),
            extra: "  hostKeyFingerprint: \(server.fingerprint)\n  timeout: 5s",
            copy: { portal in
                for name in try FileManager.default.contentsOfDirectory(atPath: portal.path) {
                    try FileManager.default.copyItem(
                        at: portal.appendingPathComponent(name), to: tree.url.appendingPathComponent(name))
                }
            }, name: name)
        return (dir, config, tree)
    }

    @Test func portalArchivesAreStreamedOverSFTP() throws {
        let server = try SSHServer.running()
        let (dir, config, tree) = try sftp(server)
        defer { withExtendedLifetime((dir, tree)) {} }
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--pair", "all"])
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        let rows = verify.stdout.components(separatedBy: "\n\n")[0].split(separator: "\n").dropFirst(2)
        #expect(rows.filter { $0.hasPrefix("FAILED") }.count == 1)
        #expect(rows.filter { $0.hasPrefix("ok ") }.count > 90)
        #expect(rows.allSatisfy { $0.hasPrefix("ok ") || $0.hasPrefix("FAILED") || !$0.contains(".tar.gz") })
        #expect(!(verify.stdout + verify.stderr).contains(server.password))
    }

    @Test func aConnectionDroppedMidStreamFailsCleanlyAndEarlierResultsStay() throws {
        let server = try SSHServer.running()
        let own = try PrivateSSHD(config: server.dir + "/sshd_config")
        defer { own.stop() }
        let (dir, config, tree) = try sftp(server, port: own.port)
        defer { withExtendedLifetime((dir, tree)) {} }
        // Big archives, so the server dies in the middle of one.
        for name in try FileManager.default.contentsOfDirectory(atPath: tree.path) where name.hasSuffix(".tar.gz") {
            let body = Data((0..<300_000).map { _ in UInt8.random(in: 0...255) })
            let archive = Deflate.compress(TarWriter.archive([(name: "dump.sql", data: body)]), level: 0)
            try archive.write(to: tree.url.appendingPathComponent(name))
        }
        #expect(try cli(["scan", "--config", config]).status == 0)

        let workspace = try Workspace(configPath: config)
        let index = workspace.index
        let artifacts = try workspace.artifacts(.portal)!
        let management = try workspace.artifacts(.management)!
        final class Streamed: @unchecked Sendable {
            let lock = NSLock()
            var bytes = 0
        }
        let streamed = Streamed()
        var request = VerifyRequest(now: testNow)
        request.pairs = .latest
        request.jobs = 1
        let sshd = Unchecked(value: own)
        let error = try #require(throws: DRAuditError.self) {
            try workspace.verify(request, progress: nil) { role in
                let target = try TargetFactory.make(role: role, artifacts: role == .portal ? artifacts : management)
                guard role == .portal else { return target }
                return KillMidStream(
                    inner: target, sshd: sshd.value, afterBytes: 700_000,
                    streamed: { n in
                        streamed.lock.lock()
                        defer { streamed.lock.unlock() }
                        streamed.bytes += n
                        return streamed.bytes
                    })
            }
        }
        #expect(error.code == "TARGET_UNREACHABLE")
        #expect(error.message.contains("sftp://127.0.0.1:\(own.port)"))
        #expect(!error.message.contains(server.password))
        // The management backup and the archives read before the drop keep their results; nothing is judged of
        // the archive cut in half.
        let outcomes: [String] = try index.query("SELECT outcome FROM verifications ORDER BY id")
        #expect(outcomes.count >= 2 && outcomes.count < 5)
        #expect(outcomes.allSatisfy { $0 == "ok" })

        // Through the binary: one line, exit 3.
        let verify = try cli(["verify", "--config", config, "--now", testNowText])
        #expect(verify.status == 3)
        #expect(verify.stderr.split(separator: "\n").count == 1)
        #expect(verify.stderr.hasPrefix("dr-audit: "))
    }

    func s3(_ server: S3Server, endpoint: String? = nil, name: String = #function) throws -> (TempDir, String, String) {
        let bucket = try server.bucket(name)
        let (dir, config) = try environment(
            portalTarget: "    protocol: objstore\n    path: \(bucket)/portal",
            secret: secretYAML("portal-backup-secret", username: server.accessKey, password: server.secretKey),
            extra: "  endpoint: \(endpoint ?? server.endpoint)",
            copy: { portal in
                var uploads: [(key: String, body: Data)] = []
                for name in try FileManager.default.contentsOfDirectory(atPath: portal.path) {
                    uploads.append(("portal/" + name, try Data(contentsOf: portal.appendingPathComponent(name))))
                }
                try server.put(bucket: bucket, uploads)
            }, name: name)
        return (dir, config, bucket)
    }

    @Test func portalArchivesAreStreamedFromS3() throws {
        let server = try S3Server.running()
        let (dir, config, _) = try s3(server)
        defer { withExtendedLifetime(dir) {} }
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--pair", "all"])
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.split(separator: "\n").filter { $0.hasPrefix("FAILED") }.count == 1)
        let everything = verify.stdout + verify.stderr
        #expect(!everything.contains(server.secretKey) && !everything.contains(server.accessKey))
    }

    func pointPortal(_ config: String, at endpoint: String) throws {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("  endpoint: ") ? "  endpoint: \(endpoint)" : String(line)
        }
        try lines.joined(separator: "\n").write(toFile: config, atomically: true, encoding: .utf8)
    }

    @Test func aDroppedS3TransferResumesWhereItStopped() throws {
        let server = try S3Server.running()
        let (dir, config, _) = try s3(server)
        defer { withExtendedLifetime(dir) {} }
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--drop-body-once", "--slowdown", "2"])
        try pointPortal(config, at: proxy.endpoint)
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--format", "json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let results = try #require(try json(verify.stdout)["results"] as? [[String: Any]])
        #expect(results.count == 5)
        #expect(results.allSatisfy { $0["outcome"] as? String == "ok" })
    }

    @Test func anS3ServerGoneMidRunFailsCleanlyAndEarlierResultsStay() throws {
        let server = try S3Server.running()
        let (dir, config, _) = try s3(server)
        defer { withExtendedLifetime(dir) {} }
        // Two objects pass, then the server is gone.
        let proxy = try ScriptServer(faultProxyTo: server.endpoint, ["--die-after", "2"])
        try pointPortal(config, at: proxy.endpoint)
        let verify = try cli(["verify", "--config", config, "--now", testNowText, "--jobs", "1"])
        #expect(verify.status == 3)
        #expect(verify.stderr.split(separator: "\n").count == 1)
        #expect(verify.stderr.contains("gave up after 5 attempts"))
        #expect(!verify.stderr.contains(server.secretKey) && !verify.stderr.contains(server.accessKey))
        let rows: [String] = try Index(path: dir.path("dr-audit.sqlite")).query(
            "SELECT source || ':' || outcome FROM verifications ORDER BY id")
        #expect(rows.filter { $0 == "portal:ok" }.count == 2)
        #expect(rows.allSatisfy { $0.hasSuffix(":ok") })
    }
}

struct Unchecked<T>: @unchecked Sendable {
    let value: T
}

/// Stops its sshd once `afterBytes` have been streamed through all its reads.
final class KillMidStream: StorageTarget, @unchecked Sendable {
    let inner: StorageTarget
    let sshd: PrivateSSHD
    let afterBytes: Int
    let streamed: (Int) -> Int
    init(inner: StorageTarget, sshd: PrivateSSHD, afterBytes: Int, streamed: @escaping (Int) -> Int) {
        self.inner = inner
        self.sshd = sshd
        self.afterBytes = afterBytes
        self.streamed = streamed
    }
    var location: String { inner.location }
    func list(_ visit: (StorageObject) throws -> Void) throws { try inner.list(visit) }
    func read(_ key: String, limit: Int) throws -> Data { try inner.read(key, limit: limit) }
    func stream(_ key: String, _ consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int64 {
        try inner.stream(key) { chunk in
            if streamed(chunk.count) >= afterBytes { sshd.killAll() }
            return try consume(chunk)
        }
    }
}

/// The repositories scripts/pg-fixtures.sh wrote with the real PostgreSQL 15, pgBackRest 2.45 and barman-cloud 3.4:
/// their manifests, references, checksums and tars as they really are.
@Suite(.serialized)
struct RealRepositoryVerifyTests {
    struct Repository {
        let stanza: URL
        let full: String
        let newest: String
        let newestStop: Date
        var now: String { UTC.rfc3339(newestStop.addingTimeInterval(3600)) }
    }

    /// The sample's CRs and Secrets, with `management` as the management target (YAML lines) and a portal run written
    /// at `at`, so the newest backups pair.
    func environment(management: String, secret: String? = nil, at: Date, name: String = #function) throws -> (
        TempDir, String
    ) {
        let dir = try TempDir(name)
        var options = SampleEnvironment.Options(now: at.addingTimeInterval(3600))
        options.clusterExports = false
        options.days = 0
        options.walHoleDaysAgo = []  // the storage is replaced below
        let config = try SampleEnvironment.write(to: dir.url, options: options)
        let storage = dir.url.appendingPathComponent("storage")
        try FileManager.default.removeItem(at: storage)
        try FileManager.default.createDirectory(
            at: storage.appendingPathComponent("portal"), withIntermediateDirectories: true)
        for (i, name) in [
            PortalFileName.format(kind: .system, site: nil, time: at.addingTimeInterval(-2)),
            PortalFileName.format(kind: .site, site: "portal-web.think.org@e1@enterprise", time: at),
        ].enumerated() {
            try SampleEnvironment.portalArchive(name + "\(i)").write(
                to: storage.appendingPathComponent("portal/\(name)"))
        }
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(of: "    protocol: local\n    path: ./storage/management", with: management)
        if let secret {
            try secret.write(toFile: dir.path("mgmt-backup-secret.yaml"), atomically: true, encoding: .utf8)
        }
        try text.write(to: config, atomically: true, encoding: .utf8)
        let scan = try cli(["scan", "--config", config.path])
        guard scan.status == 0 else { throw DRAuditError("scan failed: \(scan.stderr)") }
        return (dir, config.path)
    }

    /// A copy of the pgBackRest repository (repo1), to change as a test pleases, and a config using it.
    func pgBackRest(name: String = #function) throws -> (TempDir, TempDir, String, Repository) {
        let fixtures = try PostgresFixtures.load()
        let info = try PgBackRest.parseInfo(
            String(contentsOfFile: "\(fixtures.repo1Path)/backup/\(fixtures.stanza)/backup.info", encoding: .utf8))
        let full = try #require(info.first { $0.type == "full" })
        let newest = try #require(info.max { $0.stop < $1.stop })
        let copy = try TempDir(name + "Repo")
        try cli(["-a", fixtures.repo1Path, copy.path("repo")], executable: "/bin/cp")
        let (dir, config) = try environment(
            management: "    protocol: local\n    path: \(copy.path("repo"))", at: newest.stop, name: name)
        return (
            dir, copy, config,
            Repository(
                stanza: copy.url.appendingPathComponent("repo/backup/\(fixtures.stanza)"), full: full.label,
                newest: newest.label, newestStop: newest.stop)
        )
    }

    @Test func theRealManifestParsesWithEveryFile() throws {
        let (dir, copy, _, repo) = try pgBackRest()
        defer { withExtendedLifetime((dir, copy)) {} }
        let text = try String(
            contentsOf: repo.stanza.appendingPathComponent("\(repo.newest)/backup.manifest"), encoding: .utf8)
        let manifest = try PgBackRestManifest.parse(text)
        let fileSection = text.components(separatedBy: "[target:file]\n")[1].components(separatedBy: "\n\n")[0]
        #expect(manifest.files.count == fileSection.split(separator: "\n").count)
        #expect(manifest.files.count > 900)
        #expect(manifest.label == repo.newest)
        #expect(manifest.references.first == repo.full)
        #expect(manifest.references.last == repo.newest)
        #expect(manifest.compressType == "gz")
        #expect(manifest.archiveStart?.count == 24)
        #expect(manifest.files.contains { $0.reference == repo.full })
        #expect(manifest.files.contains { $0.reference == nil })
        #expect(manifest.files.filter { $0.size > 0 }.allSatisfy { $0.checksum?.count == 40 })
    }

    @Test func thePairsBackupVerifiesDeepAgainstItsManifest() throws {
        let (dir, copy, config, repo) = try pgBackRest()
        defer { withExtendedLifetime((dir, copy)) {} }
        let verify = try cli([
            "verify", "--config", config, "--pair", "all", "--deep", "--format", "json", "--now", repo.now,
        ])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let results = try #require(try json(verify.stdout)["results"] as? [[String: Any]])
        // The backups ran seconds apart: one portal run; its pair restores from one of them, whose manifest lists
        // every file of the chain (those an earlier backup stored, by reference).
        let management = results.filter { $0["role"] as? String == "management" }
        #expect(!management.isEmpty)
        #expect(management.allSatisfy { $0["outcome"] as? String == "ok" })
        #expect(management.allSatisfy { ($0["entries"] as? Int ?? 0) > 900 })
        // Every file's content decoded and hashed: tens of MB of a fresh cluster.
        #expect(management.allSatisfy { ($0["contentBytes"] as? Int ?? 0) > 10_000_000 })
        #expect(results.filter { $0["role"] as? String == "portal" }.allSatisfy { $0["outcome"] as? String == "ok" })
    }

    @Test func aDamagedFileInTheFullBreaksTheIncrementalsToo() throws {
        let (dir, copy, config, repo) = try pgBackRest()
        defer { withExtendedLifetime((dir, copy)) {} }
        // The two largest files the full stored and the newest backup references: one gets a byte flipped, the
        // other goes missing (the listing already tells that one).
        let manifest = try PgBackRestManifest.parse(
            String(contentsOf: repo.stanza.appendingPathComponent("\(repo.newest)/backup.manifest"), encoding: .utf8))
        let referenced = manifest.files.filter { $0.reference == repo.full && ($0.repoSize ?? 0) > 1000 }
            .sorted { $0.repoSize! > $1.repoSize! }
        #expect(referenced.count >= 2)
        let damaged = referenced[0].name
        let goneName = referenced[1].name
        let largest = repo.stanza.appendingPathComponent("\(repo.full)/\(damaged).gz")
        var bytes = try Data(contentsOf: largest)
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: largest)
        try FileManager.default.removeItem(at: repo.stanza.appendingPathComponent("\(repo.full)/\(goneName).gz"))
        #expect(try cli(["scan", "--config", config]).status == 0)

        let verify = try cli([
            "verify", "--config", config, "--pair", "all", "--deep", "--format", "json", "--now", repo.now,
        ])
        #expect(verify.status == 2, "\(verify.stdout)\(verify.stderr)")
        let results = try #require(try json(verify.stdout)["results"] as? [[String: Any]])
        let full = try #require(results.first { $0["subject"] as? String == repo.full })
        #expect(full["outcome"] as? String == "failed")
        #expect(full["code"] as? String == "MGMT_CHECKSUM_MISMATCH")
        let detail = full["detail"] as? String ?? ""
        #expect(detail.contains(damaged))
        #expect(detail.contains("\(goneName) is not in the repository"))
        let verified = results.filter { $0["role"] as? String == "management" && $0["subject"] as? String != repo.full }
        #expect(verified.allSatisfy { $0["outcome"] as? String == "failed" })
        let pairs = try cli(["pairs", "--config", config, "--now", repo.now, "--format", "json"])
        #expect((try json(pairs.stdout)["pairs"] as? [Any])?.isEmpty == true)
    }

    /// The consistency WAL of each backup verified is looked for, and with --deep read: a segment of the pair's
    /// backup with a byte flipped fails it as a corrupt archive, naming the segment.
    @Test func aDamagedConsistencySegmentFailsItsBackupOnADeepRead() throws {
        let (dir, copy, config, repo) = try pgBackRest()
        defer { withExtendedLifetime((dir, copy)) {} }
        let fixtures = try PostgresFixtures.load()
        // Present and whole: the pair's backup verifies.
        let clean = try cli(["verify", "--config", config, "--deep", "--format", "json", "--now", repo.now])
        #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
        let label = try #require((try json(clean.stdout)["pairs"] as? [[String: Any]])?.first?["management"] as? String)

        let info = try PgBackRest.parseInfoFile(
            String(contentsOf: repo.stanza.appendingPathComponent("backup.info"), encoding: .utf8))
        let backup = try #require(info.entries.first { $0.label == label })
        let segment = try #require(backup.archiveStart)
        let files = try PostgresFixtures.archivedFiles(
            inRepository: copy.path("repo"), stanza: fixtures.stanza, archiveID: try #require(info.archiveID(backup)))
        let (name, path) = try #require(files.first { $0.key.hasPrefix(segment.name + "-") })
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try cli(["scan", "--config", config]).status == 0)

        let shallow = try cli(["verify", "--config", config, "--format", "json", "--now", repo.now])
        #expect(shallow.status == 0, "present and of its size: a shallow verify cannot tell")
        let deep = try cli(["verify", "--config", config, "--deep", "--format", "json", "--now", repo.now])
        let results = try #require(try json(deep.stdout)["results"] as? [[String: Any]])
        let failed = try #require(results.first { $0["subject"] as? String == label })
        #expect(failed["outcome"] as? String == "failed", "\(deep.stdout)")
        #expect(failed["code"] as? String == "ARCHIVE_CORRUPT")
        #expect((failed["detail"] as? String ?? "").contains(name))
    }

    @Test func aRealBarmanCloudBackupsDataTarIsReadFromS3() throws {
        let fixtures = try PostgresFixtures.load()
        let backups = try #require(
            (try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: try fixtures.value("DRTEST_PG_BARMAN_LIST_JSON"))))
                as? [String: Any])?["backups_list"] as? [[String: Any]])
        let newest = try #require(backups.compactMap { $0["backup_id"] as? String }.max())
        let end = try #require(Barman.parseBackupID(newest)).addingTimeInterval(5)
        let secret = secretYAML(
            "mgmt-backup-secret", username: try TestServers.value("DRTEST_S3_ACCESS_KEY"),
            password: try TestServers.value("DRTEST_S3_SECRET_KEY"))
        let (dir, config) = try environment(
            management: """
                    protocol: objstore
                    path: \(fixtures.barman.bucket)/\(fixtures.barman.prefix)
                  endpoint: \(fixtures.barman.endpoint)
                """, secret: secret, at: end)
        defer { withExtendedLifetime(dir) {} }
        let verify = try cli([
            "verify", "--config", config, "--pair", "all", "--deep", "--format", "json", "--now",
            UTC.rfc3339(end.addingTimeInterval(3600)),
        ])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let results = try #require(try json(verify.stdout)["results"] as? [[String: Any]])
        let management = try #require(results.first { $0["role"] as? String == "management" })
        #expect((management["subject"] as? String)?.hasPrefix(fixtures.barmanServer + "/") == true)
        #expect(management["outcome"] as? String == "ok")
        // data.tar of a fresh cluster: its ~1,000 files, all of them read.
        #expect((management["contentBytes"] as? Int ?? 0) > 20_000_000)
        #expect(!(verify.stdout + verify.stderr).contains(try TestServers.value("DRTEST_S3_SECRET_KEY")))
    }
}
