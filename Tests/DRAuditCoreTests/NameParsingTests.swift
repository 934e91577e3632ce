import Foundation
import Testing

@testable import DRAuditCore

struct PortalNameTests {
    @Test func systemBackupFromTheFactsFile() throws {
        let p = try #require(PortalFileName.parse("_portal_system_backup-20200422.095734.tar.gz"))
        #expect(p.kind == .system)
        #expect(p.site == nil)
        #expect(p.time == utc("2020-04-22T09:57:34Z"))
    }

    @Test func siteBackupFromTheFactsFile() throws {
        let p = try #require(PortalFileName.parse("portal-web.think.org@e1@enterprise-20200422.095725.tar.gz"))
        #expect(p.kind == .site)
        #expect(p.site == "portal-web.think.org@e1@enterprise")
        #expect(p.host == "portal-web.think.org")
        #expect(p.porg == "e1")
        #expect(p.catalog == "enterprise")
        #expect(p.time == utc("2020-04-22T09:57:25Z"))
    }

    @Test(arguments: [
        (
            "portal.example.com@my-org@my-cat-1-20200422.095725.tar.gz", "portal.example.com@my-org@my-cat-1", "my-org",
            "my-cat-1"
        ),
        (
            "p.example.com@org-2020@cat-20200101.000000-20211231.235959.tar.gz",
            "p.example.com@org-2020@cat-20200101.000000", "org-2020", "cat-20200101.000000"
        ),
        ("p.example.com@a-b-c@d-e-f-20210102.030405.tar.gz", "p.example.com@a-b-c@d-e-f", "a-b-c", "d-e-f"),
    ])
    func orgAndCatalogWithDashesKeepTheTimestampFromTheRight(name: String, site: String, porg: String, catalog: String)
        throws
    {
        let p = try #require(PortalFileName.parse(name))
        #expect(p.site == site)
        #expect(p.porg == porg)
        #expect(p.catalog == catalog)
    }

    @Test func customSiteURLKeepsItsPathParts() throws {
        let p = try #require(PortalFileName.parse("developer.example.com@apis@partners@v2-20231001.010203.tar.gz"))
        #expect(p.kind == .site)
        #expect(p.site == "developer.example.com@apis@partners@v2")
        #expect(p.host == "developer.example.com")
        #expect(p.porg == nil)
        #expect(p.catalog == nil)
        let short = try #require(PortalFileName.parse("developer.example.com@store-20231001.010203.tar.gz"))
        #expect(short.site == "developer.example.com@store")
    }

    @Test func aCustomURLThatIsOnlyAHostNameIsASite() throws {
        let p = try #require(PortalFileName.parse("developer.example.com-20261124.010203.tar.gz"))
        #expect(p.kind == .site)
        #expect(p.site == "developer.example.com")
        #expect(p.host == "developer.example.com")
        #expect(
            PortalFileName.format(kind: .site, site: p.site, time: p.time)
                == "developer.example.com-20261124.010203.tar.gz")
    }

    @Test(arguments: [
        "",
        ".tar.gz",
        "-20200422.095725.tar.gz",
        "_portal_system_backup-20200422.095734.tar",
        "_portal_system_backup-20200422.095734.tar.gz.partial",
        "_portal_system_backup-20200422.095734.tgz",
        "_portal_system_backup-20201322.095734.tar.gz",  // month 13
        "_portal_system_backup-20200230.095734.tar.gz",  // 30 February
        "_portal_system_backup-20200422.246000.tar.gz",  // hour 24
        "_portal_system_backup-20200422.0957.tar.gz",
        "_portal_system_backup-2020042.2095734.tar.gz",
        "_portal_system_backup_20200422.095734.tar.gz",  // no dash before the stamp
        "_portal_system_backup-x-20200422.095734.tar.gz",
        "@e1@enterprise-20200422.095725.tar.gz",
        "host@@enterprise-20200422.095725.tar.gz",
        "host@e1@-20200422.095725.tar.gz",
        "host@e1@ent erprise-20200422.095725.tar.gz",
        "host@e1@enterprise-20200422.095725.tar.gz\n",
        "dir/host@e1@enterprise-20200422.095725.tar.gz",
        "host@e1@enterprise-２０２００４２２.095725.tar.gz",  // full-width digits
        "host@e1@enterprise-20200422.-95725.tar.gz",
        "host@e1@enterprise-+0200422.095725.tar.gz",
    ])
    func hostileNamesDoNotParse(name: String) {
        #expect(PortalFileName.parse(name) == nil)
    }

    @Test func formatRoundTrips() throws {
        let t = utc("2026-01-02T03:04:05Z")
        let site = PortalFileName.format(kind: .site, site: siteB, time: t)
        #expect(site == "portal-web.think.org@sales-org@main-catalog-20260102.030405.tar.gz")
        #expect(PortalFileName.parse(site)?.time == t)
        #expect(
            PortalFileName.format(kind: .system, site: nil, time: t) == "_portal_system_backup-20260102.030405.tar.gz")
    }
}

struct PgBackRestTests {
    @Test func labelsFromTheFactsFile() throws {
        let f = try #require(PgBackRest.parseLabel("20210420-122332F"))
        #expect(f.type == "full")
        #expect(f.fullLabel == "20210420-122332F")
        #expect(f.time == utc("2021-04-20T12:23:32Z"))
        let i = try #require(PgBackRest.parseLabel("20210420-122332F_20210421-010001I"))
        #expect(i.type == "incr")
        #expect(i.fullLabel == "20210420-122332F")
        #expect(i.time == utc("2021-04-21T01:00:01Z"))
        #expect(PgBackRest.parseLabel("20210420-122332F_20210421-010001D")?.type == "diff")
    }

    @Test(arguments: [
        "20210420-122332", "20210420-122332X", "20210420-122332I", "20210420-122332F_",
        "20210420-122332F_20210421-010001F",
        "20210420-122332F_20210419-010001I", "20211320-122332F", "20210420-122332F_20210421-010001I_x", "backup.info",
        "latest",
    ])
    func badLabels(label: String) {
        #expect(PgBackRest.parseLabel(label) == nil)
    }

    static let info = """
        [backrest]
        backrest-format=5

        [backup:current]
        20210420-122332F={"backup-error":false,"backup-prior":null,"backup-timestamp-start":1618921412,"backup-timestamp-stop":1618921500,"backup-type":"full"}
        20210420-122332F_20210421-010001I={"backup-error":true,"backup-prior":"20210420-122332F","backup-timestamp-start":1618966801,"backup-timestamp-stop":1618966900,"backup-type":"incr"}

        [db]
        db-id=1
        """

    @Test func parsesBackupInfo() throws {
        let entries = try PgBackRest.parseInfo(Self.info)
        #expect(entries.count == 2)
        #expect(entries[0].label == "20210420-122332F")
        #expect(entries[0].stop == Date(timeIntervalSince1970: 1_618_921_500))
        #expect(entries[0].prior == nil)
        #expect(entries[1].prior == "20210420-122332F")
        #expect(entries[1].error)
    }

    @Test func rejectsBrokenBackupInfo() {
        #expect(throws: PgBackRest.InfoError.noCurrentSection) { try PgBackRest.parseInfo("[backrest]\nx=1\n") }
        #expect(throws: PgBackRest.InfoError.self) {
            try PgBackRest.parseInfo("[backup:current]\n20210420-122332F={not json\n")
        }
        #expect(throws: PgBackRest.InfoError.self) {
            try PgBackRest.parseInfo(
                "[backup:current]\n20210420-122332F_20210421-010001I={\"backup-type\":\"incr\",\"backup-timestamp-start\":1,\"backup-timestamp-stop\":2}\n"
            )
        }
        #expect(throws: PgBackRest.InfoError.self) { try PgBackRest.parseInfo("[backup:current]\nnot-a-label={}\n") }
    }
}

struct BarmanTests {
    @Test func parsesBackupInfoAndIDs() throws {
        let info = try Barman.parseInfo(
            """
            backup_id=20230918T101612
            status=DONE
            begin_time=2023-09-18 10:16:13.123456+00:00
            end_time=2023-09-18 10:20:01.5+00:00
            error=None
            """)
        #expect(info.status == "DONE")
        #expect(info.begin == utc("2023-09-18T10:16:13Z"))
        #expect(info.end == utc("2023-09-18T10:20:01Z"))
        #expect(info.error == nil)
        #expect(Barman.parseBackupID("20230918T101612") == utc("2023-09-18T10:16:12Z"))
        #expect(Barman.parseBackupID("20230918-101612") == nil)
        #expect(throws: Barman.InfoError.missingStatus) { try Barman.parseInfo("backup_id=x\n") }
    }
}

struct ClassifierTests {
    @Test(arguments: [
        ("backup/apic/backup.info", ObjectKind.pgbackrestInfo),
        ("backup/apic/backup.info.copy", .pgbackrestInfo),
        ("repo1/backup/apic/20210420-122332F/backup.manifest", .pgbackrestManifest),
        ("backup/apic/20210420-122332F/backup.manifest.copy", .pgbackrestManifest),
        ("backup/apic/20210420-122332F/pg_data/base/1/1259.gz", .pgbackrestData),
        ("backup/apic/backup.history/2021/20210420-122332F.manifest.gz", .pgbackrestData),
        ("archive/apic/archive.info", .pgbackrestArchive),
        (
            "repo1/archive/apic/15-1/0000000100000000/000000010000000000000002-47c8d49b9975fad576c87e39d2a34e18633970d6.gz",
            .pgbackrestWAL
        ),
        ("archive/apic/15-1/0000000100000000/000000010000000000000002.00000028.backup", .pgbackrestArchive),
        ("archive/apic/15-1/00000002.history", .pgbackrestArchive),
        // A segment without pgBackRest's checksum, or in the wrong folder, is not pgBackRest's.
        ("archive/apic/15-1/0000000100000000/000000010000000000000002.gz", .unrecognized),
        (
            "archive/apic/15-1/0000000100000001/000000010000000000000002-47c8d49b9975fad576c87e39d2a34e18633970d6",
            .unrecognized
        ),
        ("backup/apic/latest", .pgbackrestData),
        ("management-0e88ecfa-db-2023-08-03T09:37:36Z/base/20230918T101612/backup.info", .barmanInfo),
        ("edb/management-0e88ecfa-db/base/20230918T101612/data.tar.gz", .barmanData),
        ("management-0e88ecfa-db/wals/0000000100000000/000000010000000000000001.gz", .barmanWAL),
        ("management-0e88ecfa-db/wals/0000000100000000/000000010000000000000001.partial", .barmanArchive),
        ("management-0e88ecfa-db/wals/00000002.history.gz", .barmanArchive),
        ("management-0e88ecfa-db/wals/0000000100000000/notes.txt", .unrecognized),
        ("backup/apic/notalabel/backup.manifest", .unrecognized),
        ("README.md", .unrecognized),
        ("base/20230918T101612/backup.info", .unrecognized),
    ])
    func managementKeys(key: String, kind: ObjectKind) {
        #expect(Classifier.classify(key, role: .management) == kind)
    }

    @Test func pgBackRestsLatestLinkIsPartOfItsRepositoryAndNoOtherLinkIs() {
        func link(_ key: String) -> StorageObject { StorageObject(key: key, size: 0, mtime: nil, special: .symlink) }
        #expect(Classifier.classify(link("repo/backup/apic/latest"), role: .management) == .pgbackrestData)
        #expect(Classifier.classify(link("repo/backup/apic/backup.info"), role: .management) == .unrecognized)
        #expect(Classifier.classify(link("latest"), role: .management) == .unrecognized)
        #expect(Classifier.classify(link("backup/apic/latest"), role: .portal) == .unrecognized)
        var fifo = link("backup/apic/latest")
        fifo.special = .fifo
        #expect(Classifier.classify(fifo, role: .management) == .unrecognized)
    }

    @Test func portalKeysInSubfolders() {
        #expect(
            Classifier.classify("2020/_portal_system_backup-20200422.095734.tar.gz", role: .portal) == .portalSystem)
        #expect(
            Classifier.classify("portal-web.think.org@e1@enterprise-20200422.095725.tar.gz", role: .portal)
                == .portalSite)
        #expect(
            Classifier.classify("portal-web.think.org@e1@enterprise-20200422.095725.tar.gz.tmp", role: .portal)
                == .unrecognized)
        #expect(Classifier.classify("backup/apic/backup.info", role: .portal) == .unrecognized)
        #expect(Classifier.classify("dir/", role: .portal) == .unrecognized)
    }
}

struct CivilTimeTests {
    @Test func agreesWithFoundationsCalendarAcrossCenturies() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var day = calendar.date(from: DateComponents(year: 1970, month: 1, day: 1))!
        let end = calendar.date(from: DateComponents(year: 2401, month: 3, day: 1))!
        while day < end {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            let p = UTC.parts(day.addingTimeInterval(3723))
            #expect(
                p
                    == UTC.Parts(
                        year: c.year!, month: c.month!, day: c.day!, hour: 1, minute: 2, second: 3, weekday: c.weekday!)
            )
            #expect(
                UTC.date(year: c.year!, month: c.month!, day: c.day!, hour: 1, minute: 2, second: 3)
                    == day.addingTimeInterval(3723))
            day = day.addingTimeInterval(86400 * 13)
        }
        #expect(UTC.date(year: 2024, month: 2, day: 29) != nil)
        #expect(UTC.date(year: 2100, month: 2, day: 29) == nil)
        #expect(UTC.date(year: 2000, month: 2, day: 29) != nil)
        #expect(UTC.date(year: 2023, month: 4, day: 31) == nil)
    }
}

struct RFC3339Tests {
    @Test(arguments: [
        ("2026-11-25T02:00:00Z", 1_795_572_000.0),
        ("2026-11-25T02:00:00.123Z", 1_795_572_000.0),
        ("2026-11-25T03:30:00+01:30", 1_795_572_000.0),
        ("2026-11-25T00:00:00-02:00", 1_795_572_000.0),
        ("2026-11-25 02:00:00Z", 1_795_572_000.0),
    ])
    func accepted(text: String, seconds: Double) {
        #expect(UTC.parseRFC3339(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test(arguments: [
        "", "2026-11-25", "2026-11-25T02:00:00", "2026-13-25T02:00:00Z", "2026-11-25T02:00:00.Z",
        "2026-11-25T02:00:00+0100", "2026-11-25T02:00:00Zjunk", "2026-02-30T02:00:00Z", "yesterday",
    ])
    func rejected(text: String) {
        #expect(UTC.parseRFC3339(text) == nil)
    }
}
