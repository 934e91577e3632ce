import Foundation
import Testing
import Yams

@testable import DRAuditCore

struct RestorePlanTests {
    func pairs() -> [Pair] {
        let files =
            run("2026-01-01T01:00:00Z", sites: [siteA, siteB]) + run("2026-01-02T01:00:00Z", sites: [siteA, siteB])
        let f = full("2026-01-01T01:02:00Z")
        let i = incr("2026-01-02T01:03:00Z", on: f, full: f)
        return Pairing.pair(portalFiles: files, restorableManagement: [f, i], policy: PairingPolicy()).pairs
    }

    @Test func choosesLatestOrTheNewestNotAfterATime() throws {
        let p = pairs()
        #expect(try RestorePlan.choose(p, at: nil).restorePoint == utc("2026-01-02T01:03:00Z"))
        #expect(try RestorePlan.choose(p, at: utc("2026-01-01T12:00:00Z")).restorePoint == utc("2026-01-01T01:02:00Z"))
        #expect(throws: RestorePlan.PlanError.noPairAtOrBefore(utc("2025-12-31T00:00:00Z"))) {
            try RestorePlan.choose(p, at: utc("2025-12-31T00:00:00Z"))
        }
        #expect(throws: RestorePlan.PlanError.noPairs) { try RestorePlan.choose([], at: nil) }
    }

    @Test func pgBackRestFormNamesTheReadyRecordAndAlwaysCarriesAPITRTarget() throws {
        let pair = try RestorePlan.choose(pairs(), at: nil)
        let records = [
            ClusterRecord(
                kind: .managementBackup, name: "mgmt-record-abc", phase: "Ready", objectName: pair.management.id)
        ]
        var cr = SubsystemCR(
            kind: "PortalCluster", name: "portal1", role: .portal, originalUID: "u",
            backup: BackupSpec(protocol: "sftp"))
        cr.namespace = "apic"
        let text = try RestorePlan.render(
            .init(
                pair: pair, portalCR: cr, managementRecords: records,
                openFindings: [Finding("PORTAL_SITE_MISSING", .warn, "s", "a site is missing")]))
        #expect(
            text.contains(
                "kind: ManagementRestore\nmetadata:\n  generateName: \"management-restore-\"\nspec:\n  backupName: \"mgmt-record-abc\"\n  pitrTarget: \"2026-01-02 01:03:01+00\"\n"
            ))
        #expect(text.contains("status.id==\"\(pair.management.id)\""))  // how to find the record on a new cluster
        #expect(
            text.contains(
                "  type: system\n  portalCluster: \"portal1\"\n  systemName: \"_portal_system_backup-20260102.010000.tar.gz\"\n"
            ))
        #expect(text.components(separatedBy: "kind: PortalRestore").count == 4)  // system + 2 sites
        #expect(text.contains("siteName: \"\(siteA)-20260102.010010.tar.gz\""))
        #expect(text.contains("#   warn PORTAL_SITE_MISSING: \"a site is missing\""))
        #expect(text.contains("status.phase is Complete"))
        #expect(text.contains("kubectl get portalbackups -n apic"))
        #expect(text.contains("spec.originalUID \"u\""))
        // Without a record the name is a placeholder that cannot be applied by accident.
        let unnamed = try RestorePlan.render(.init(pair: pair, portalCR: cr))
        #expect(unnamed.contains("backupName: \"<ManagementBackup whose status.id is \(pair.management.id)>\""))
        #expect(unnamed.contains("# Checks still failing: none"))
        #expect(try documents(text) == 4 && documents(unnamed) == 4)
    }

    @Test func apiConnectClusterSubsystemsAreNamedByTheirBackupCRsOrByConvention() throws {
        let pair = try RestorePlan.choose(pairs(), at: nil)
        let top = SubsystemCR(
            kind: "APIConnectCluster", name: "prod", role: .portal, backup: BackupSpec(protocol: "sftp"))
        var management = top
        management.role = .management
        let byConvention = try RestorePlan.render(.init(pair: pair, portalCR: top, managementCR: management))
        #expect(byConvention.contains("portalCluster: \"prod-ptl\""))
        #expect(byConvention.contains("generateName: \"prod-mgmt-restore-\""))
        #expect(byConvention.contains("IBM's convention"))
        // What the operator applies is the APIConnectCluster: its name and the subsystem sections' fields.
        #expect(byConvention.contains("#   portal: APIConnectCluster \"prod\", subsystem CR \"prod-ptl\""))
        #expect(byConvention.contains("#     spec.portal.originalUID (not in the saved CR: the metadata.uid of"))
        #expect(byConvention.contains("#     spec.management.originalUID"))
        #expect(byConvention.contains("create the APIConnectCluster \"prod\" with the spec.<subsystem>.originalUID"))
        #expect(!byConvention.contains("endpoints as above"))
        var record = ClusterRecord(kind: .portalBackup, name: "r", phase: "Ready", objectName: "x")
        record.cluster = "prod-portal"
        let named = try RestorePlan.render(
            .init(pair: pair, portalCR: top, managementCR: management, portalRecords: [record]))
        #expect(named.contains("portalCluster: \"prod-portal\""))
        #expect(named.contains("generateName: \"prod-portal-restore-system-\""))
    }

    @Test func edbFormForBarmanBackups() throws {
        let run = Pairing.runs(run("2023-09-18T10:10:00Z", sites: [siteA]))[0]
        let backup = ManagementBackup(
            id: "management-0e88-db/20230918T101612", format: .barman, type: "full",
            start: utc("2023-09-18T10:16:12Z"), stop: utc("2023-09-18T10:20:00Z"), prior: nil, status: .complete)
        let spec = BackupSpec(
            protocol: "objstore", host: "s3.example.com/us-east-1", path: "bkt/mgmt", credentials: "mgmt-secret",
            uriStyle: "path", backupCerts: "s3-ca")
        let cr = SubsystemCR(kind: "ManagementCluster", name: "mgmt", role: .management, originalUID: "u", backup: spec)
        let pair = Pair(management: backup, point: backup.time, recovery: .backup, run: run, skew: 600)
        #expect(pair.pitrTarget == nil)
        let text = try RestorePlan.render(.init(pair: pair, managementCR: cr))
        #expect(text.contains("    apiconnect-operator/management-db: edb\n"))
        #expect(text.contains("  subsystemName: \"mgmt\"\n  backupId: \"20230918T101612\"\n"))
        #expect(text.contains("    path: \"bkt/mgmt/management-0e88-db\"\n"))
        #expect(text.contains("    credentials: \"mgmt-secret\"\n"))
        #expect(text.contains("    backupCerts: \"s3-ca\"\n    backups3URIStyle: \"path\"\n"))
        #expect(!text.contains("pitrTarget"))
    }

    /// Names from storage and CRs that YAML 1.1 parsers read as line breaks, or that a terminal obeys.
    static let hostile = [
        "z\u{2028}apiVersion: v1\u{2028}kind: ConfigMap\u{2028}metadata: {name: pwned}",
        "a\u{85}---\u{85}kind: Secret", "esc\u{1B}[2Jcleared", "del\u{7F}c1\u{9B}31m", "new\nline: x",
        "bidi\u{202E}gpj.exe", "iso\u{2066}late\u{2069}",
    ]

    @Test func noNameCanAddADocumentOrAControlCharacterToThePlan() throws {
        for name in Self.hostile {
            let site = "portal-web.think.org@e1@" + name
            let files = [
                portalFile(PortalFileName.format(kind: .system, site: nil, time: utc("2026-01-02T01:00:00Z"))),
                PortalBackupFile(
                    key: "x",
                    fileName: PortalFileName.format(kind: .site, site: site, time: utc("2026-01-02T01:00:10Z")),
                    kind: .site, site: site, time: utc("2026-01-02T01:00:10Z"), size: 10),
            ]
            let f = full("2026-01-02T01:03:00Z")
            let pair = Pairing.pair(portalFiles: files, restorableManagement: [f], policy: PairingPolicy()).pairs[0]
            var cr = SubsystemCR(
                kind: "PortalCluster", name: "portal", role: .portal, originalUID: name,
                backup: BackupSpec(protocol: "sftp"))
            cr.endpoints = [name]
            let text = try RestorePlan.render(
                .init(pair: pair, portalCR: cr, openFindings: [Finding("X", .warn, name, "message \(name)")]))
            #expect(try documents(text) == 3, "\(name.debugDescription)")
            #expect(text.unicodeScalars.allSatisfy { $0 == "\n" || ($0.value >= 0x20 && $0.value < 0x7F) })
            // The name comes back exactly from the document that carries it.
            let parsed = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
            let siteNames = parsed.compactMap { ($0["spec"] as? [String: Any])?["siteName"] as? String }
            #expect(siteNames == [PortalFileName.format(kind: .site, site: site, time: utc("2026-01-02T01:00:10Z"))])
        }
    }

    /// The documents a YAML 1.1 parser (libyaml, as PyYAML and go-yaml) finds.
    func documents(_ text: String) throws -> Int {
        try Yams.load_all(yaml: text).reduce(0) { n, _ in n + 1 }
    }
}

struct MetricsTests {
    @Test func rendersGaugesWithLabels() {
        var input = AuditInput(now: utc("2026-01-03T01:00:00Z"), policy: PairingPolicy())
        input.portalFiles = run("2026-01-01T01:00:00Z", sites: [siteA]) + run("2026-01-02T01:00:00Z", sites: [siteA])
        let f = full("2026-01-01T01:02:00Z")
        input.managementBackups = [f, incr("2026-01-02T01:02:00Z", on: f, full: f)]
        let assessment = Audit.assess(input)
        let text = Metrics.render(
            assessment,
            sources: [
                .init(
                    source: "portal", lastScanAt: utc("2026-01-03T00:59:00Z"), lastScanOK: true, lastScanDuration: 1.5,
                    objects: 4),
                .init(source: "we\"ird", lastScanAt: nil, lastScanOK: false, lastScanDuration: nil, objects: 0),
            ], now: input.now)
        #expect(text.contains("# TYPE dr_audit_restorable_pairs gauge\ndr_audit_restorable_pairs 2\n"))
        #expect(
            text.contains(
                "dr_audit_last_restorable_pair_timestamp_seconds \(Int(utc("2026-01-02T01:02:00Z").timeIntervalSince1970))\n"
            ))
        #expect(text.contains("dr_audit_last_restorable_pair_age_seconds 86280\n"))
        #expect(text.contains("dr_audit_expected_interval_seconds 86400\n"))
        #expect(text.contains("dr_audit_last_scan_duration_seconds{source=\"portal\"} 1.5\n"))
        #expect(text.contains("dr_audit_last_scan_success{source=\"we\\\"ird\"} 0\n"))
        #expect(text.contains("dr_audit_findings{severity=\"fail\"} 0\n"))
        // Every sample line is `name{labels} value`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(
                line.range(
                    of: #"^dr_audit_[a-z_]+(\{[a-z]+="([^"\\]|\\.)*"\})? -?[0-9.e+]+$"#, options: .regularExpression)
                    != nil, "\(line)")
        }
    }
}

struct ComplianceReportTests {
    let hostile = "evil.example.com@<script>alert(1)@\"cat\"|x"

    func report() -> Report {
        var input = AuditInput(now: utc("2026-01-06T02:00:00Z"), policy: PairingPolicy(tolerance: 1800, rpo: 26 * 3600))
        input.portalFiles =
            run("2026-01-01T01:00:00Z", sites: [siteA, hostile]) + run("2026-01-02T01:00:00Z", sites: [siteA])
            + run("2026-01-05T01:00:00Z", sites: [siteA, hostile])
        let f = full("2026-01-01T01:02:00Z")
        input.managementBackups = [
            f, incr("2026-01-02T01:02:00Z", on: f, full: f), incr("2026-01-05T01:02:00Z", on: f, full: f),
            full("2026-01-03T01:00:00Z", status: .failed),
        ]
        return Report(
            assessment: Audit.assess(input), now: input.now, policy: input.policy,
            managementBackups: input.managementBackups)
    }

    @Test func coverageAndGaps() {
        let r = report()
        #expect(
            r.coverage == [
                Report.SiteCoverage(site: hostile, runsWith: 2, runsMissing: 1, lastSeen: utc("2026-01-05T01:00:20Z")),
                Report.SiteCoverage(site: siteA, runsWith: 3, runsMissing: 0, lastSeen: utc("2026-01-05T01:00:10Z")),
            ])
        // Pairs on the 1st and the 5th (the 2nd misses a site): one gap of four days.
        #expect(r.gaps.map(\.from) == [utc("2026-01-01T01:02:00Z")])
    }

    @Test func htmlEscapesEveryNameAndCarriesNoScript() {
        let page = report().html()
        #expect(!page.lowercased().contains("<script"))
        #expect(page.contains("&lt;script&gt;alert(1)@&quot;cat&quot;"))
        #expect(page.contains("<svg"))
        let svg = report().timelineSVG()
        #expect(count(svg, "class=\"backup restorable\"") == 3)
        #expect(count(svg, "class=\"backup unrestorable\"") == 1)  // the failed one
        #expect(count(svg, "class=\"pair backup\"") == 2)
    }

    @Test func markdownKeepsTablesIntact() {
        let text = report().markdown()
        #expect(text.contains("| \(siteA) | 3 | 0 | 2026-01-05T01:00:10Z |"))
        #expect(text.contains("&lt;script&gt;"))
        #expect(text.contains("\\|x"))
        #expect(text.contains("- Verdict: **WARN**"))
    }
}

func count(_ text: String, _ part: String) -> Int { text.components(separatedBy: part).count - 1 }

struct TimelineAxisTests {
    func axis(_ from: String, _ to: String, now: String? = nil) -> TimeAxis {
        TimeAxis(events: [utc(from), utc(to)], now: utc(now ?? to), left: 150, right: 1175)
    }

    @Test func threeWeeksTickEveryDayAndLabelEveryOtherDay() {
        let a = axis("2026-02-22T01:00:00Z", "2026-03-15T12:00:00Z")
        #expect(a.tickStep == .days(1) && a.labelStep == .days(2))
        #expect(a.ticks.first?.time == utc("2026-02-23T00:00:00Z"))
        #expect(a.ticks.count == 21)
        #expect(zip(a.ticks, a.ticks.dropFirst()).allSatisfy { $1.time.timeIntervalSince($0.time) == 86400 })
        #expect(a.ticks.prefix(4).map(\.label) == [nil, "Feb 24", nil, "Feb 26"])
    }

    @Test func aWeekLabelsDaysAndNoonsAndAShortSpanEveryHour() {
        let week = axis("2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z")
        #expect(week.tickStep == .hours(3) && week.labelStep == .hours(12))
        #expect(week.ticks.prefix(9).map(\.label) == ["Mar 1", nil, nil, nil, "12:00", nil, nil, nil, "Mar 2"])
        let hours = axis("2026-03-01T18:30:00Z", "2026-03-02T03:00:00Z")
        #expect(hours.tickStep == .hours(1) && hours.labelStep == .hours(1))
        #expect(hours.ticks.map(\.label).prefix(7) == ["19:00", "20:00", "21:00", "22:00", "23:00", "Mar 2", "01:00"])
    }

    @Test func longSpansThinToMondaysThenMonthsThenQuartersWithYears() {
        let quarter = axis("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z")
        #expect(quarter.tickStep == .days(1) && quarter.labelStep == .weeks)
        #expect(quarter.ticks.compactMap { $0.label == nil ? nil : UTC.parts($0.time).weekday }.allSatisfy { $0 == 2 })
        let year = axis("2025-03-10T00:00:00Z", "2026-03-10T00:00:00Z")
        #expect(year.tickStep == .months(1) && year.labelStep == .months(1))
        #expect(year.ticks.first == TimeAxis.Tick(time: utc("2025-04-01T00:00:00Z"), label: "Apr 2025"))
        let decade = axis("2016-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
        #expect(decade.tickStep == .months(3) && decade.labelStep == .years(1))
        #expect(decade.ticks.last == TimeAxis.Tick(time: utc("2026-01-01T00:00:00Z"), label: "2026"))
    }

    @Test func theAxisEndsAtTheLaterOfTheLastEventAndTheReportTime() {
        let now = axis("2026-03-01T00:00:00Z", "2026-03-10T00:00:00Z", now: "2026-03-11T00:00:00Z")
        #expect(now.end == utc("2026-03-11T00:00:00Z") && now.breakFrom == nil)
        #expect(now.x(now.end) == 1175 && now.x(now.start) == 150)
        let event = axis("2026-03-01T00:00:00Z", "2026-03-10T00:00:00Z", now: "2026-03-05T00:00:00Z")
        #expect(event.end == utc("2026-03-10T00:00:00Z"))
    }

    @Test func aLongEmptyStretchUpToTheReportTimeIsDrawnShort() throws {
        // Three weeks of backups, then nothing for three months: the weeks keep their day ticks.
        let a = axis("2026-01-01T00:00:00Z", "2026-01-22T00:00:00Z", now: "2026-04-22T00:00:00Z")
        let cut = try #require(a.breakFrom)
        #expect(cut > utc("2026-01-22T00:00:00Z") && cut < utc("2026-01-23T00:00:00Z"))
        #expect(a.x(utc("2026-01-22T00:00:00Z")) < a.scaleRight && a.scaleRight == 1175 - TimeAxis.breakWidth)
        #expect(a.x(a.end) == 1175)
        #expect(a.tickStep == .days(1))
        #expect(a.ticks.allSatisfy { $0.time <= cut })
        #expect(TimeAxis.roughly(a.end.timeIntervalSince(cut)) == "89d")  // the break's label
        // A stretch that takes less than a third of the width is drawn to scale.
        #expect(axis("2026-01-01T00:00:00Z", "2026-01-22T00:00:00Z", now: "2026-01-29T00:00:00Z").breakFrom == nil)
    }
}

struct TimelineMarkTests {
    let now = utc("2026-01-04T02:00:00Z")
    let f = archived(full("2026-01-01T01:05:00Z"))
    let late = archived(full("2026-01-02T04:30:00Z"))
    var failed: ManagementBackup { archived(incr("2026-01-03T01:05:00Z", on: late, full: late, status: .failed)) }

    /// Two nights paired (at a backup, then by PITR), an incomplete night, a manual run, a failed backup, one
    /// recovery window cut by a WAL hole, and no restore point for the last two days.
    func report(site: String = siteB, backupID: String? = nil) -> Report {
        var input = AuditInput(now: now, policy: PairingPolicy(tolerance: 1800, rpo: 26 * 3600))
        input.portalFiles =
            run("2026-01-01T01:00:00Z", sites: [siteA, site]) + run("2026-01-02T01:00:00Z", sites: [siteA, site])
            + run("2026-01-03T01:00:00Z", sites: [siteA]) + run("2026-01-03T15:00:00Z", sites: [siteA], system: false)
        var failed = failed
        if let backupID { failed.id = backupID }
        input.managementBackups = [f, late, failed]
        input.wal = walInventory(from: utc("2026-01-01T00:00:00Z"), to: now, holes: [utc("2026-01-03T12:02:00Z")])
        let assessment = Audit.assess(input)
        return Report(assessment: assessment, now: now, policy: input.policy)
    }

    @Test func everyBackupRunWindowHoleAndPairIsAMark() {
        let t = report().timeline()
        #expect(t.marks(.restorableBackup).map(\.from) == [f.time, late.time])
        #expect(t.marks(.unrestorableBackup).map(\.from) == [failed.time])
        #expect(t.marks(.unrestorableBackup)[0].title.contains("\(failed.id) (incr, pgbackrest)"))
        #expect(t.marks(.unrestorableBackup)[0].title.contains("not restorable"))
        #expect(t.marks(.recoveryWindow).map { [$0.from, $0.to] } == [[f.time, utc("2026-01-03T12:00:00Z")]])
        #expect(
            t.marks(.walHole).map { [$0.from, $0.to] } == [[utc("2026-01-03T12:00:00Z"), utc("2026-01-03T12:10:00Z")]])
        #expect(t.marks(.completeRun).map(\.from) == [utc("2026-01-01T01:00:00Z"), utc("2026-01-02T01:00:00Z")])
        #expect(t.marks(.incompleteRun).map(\.from) == [utc("2026-01-03T01:00:00Z")])
        #expect(t.marks(.incompleteRun)[0].title.contains("missing sites \(siteB)"))
        #expect(t.marks(.manualRun).map(\.from) == [utc("2026-01-03T15:00:10Z")])
        #expect(t.hasManualRuns && t.lanes == 1)
        // Each pair runs from its management point to the middle of its run.
        #expect(t.marks(.backupPair).map { [$0.from, $0.to] } == [[f.time, utc("2026-01-01T01:00:10Z")]])
        #expect(
            t.marks(.pitrPair).map { [$0.from, $0.to] } == [[utc("2026-01-02T01:00:10Z"), utc("2026-01-02T01:00:10Z")]])
        #expect(t.marks(.pitrPair)[0].title.contains("PITR point 2026-01-02T01:00:10Z from base backup \(f.id)"))
        #expect(t.marks(.rpoGap).map { [$0.from, $0.to] } == [[utc("2026-01-02T01:00:10Z"), now]])
        #expect(t.axis.end == now)
    }

    @Test func everyMarkIsDrawnWithItsTitleFirst() {
        let r = report()
        let t = r.timeline()
        let svg = r.timelineSVG()
        for kind in Timeline.Kind.allCases {
            #expect(count(svg, "class=\"\(kind.rawValue)\"") == t.marks(kind).count, "\(kind)")
        }
        let opened = svg.split(separator: "class=\"").dropFirst().filter {
            !$0.hasPrefix("now") && !$0.hasPrefix("axis")
        }
        #expect(opened.count == t.marks.count)
        #expect(
            opened.allSatisfy {
                $0.range(of: #"^[^"]*"[^<>]*><title>[^<]+</title>"#, options: .regularExpression) != nil
            })
        #expect(svg.contains("viewBox=\"0 0 1200 ") && svg.contains("width=\"100%\""))
        #expect(!svg.lowercased().contains("<script"))
    }

    @Test func hostileNamesAreEscapedInEveryTitle() {
        let evil = "evil<script>alert(1)</script>&\"'"
        let site = "portal.example.com@<img_src=x_onerror=alert(2)>@c"
        let svg = report(site: site, backupID: evil).timelineSVG()
        #expect(svg.contains("evil&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"))
        #expect(svg.contains("@&lt;img_src=x_onerror=alert(2)&gt;@c"))
        #expect(!svg.contains("<script") && !svg.contains("<img"))
        // No title carries markup: between <title> and </title> there is no tag.
        let titles = svg.components(separatedBy: "<title>").dropFirst().map {
            $0.components(separatedBy: "</title>")[0]
        }
        #expect(titles.count > 10 && titles.allSatisfy { !$0.contains("<") && !$0.contains(">") })
    }
}
