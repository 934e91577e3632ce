import DRAuditCore
import Foundation

/// Writes a realistic APIC backup environment into a folder: CRs, Secrets, cluster exports and
/// local copies of the portal and management (pgBackRest) storage, with nightly runs at 01:00 UTC.
/// Used by `dr-audit demo` and by the end-to-end tests.
public struct SampleEnvironment {
    public struct Options: Sendable {
        public var now: Date
        public var days = 21
        public var sites = [
            "portal-web.think.org@e1@enterprise", "portal-web.think.org@sales-org@main-catalog",
            "developer.example.com@partners@b2b-apis",
        ]
        /// Days ago whose portal run lacks a site (the second site).
        public var missedSiteDaysAgo: [Int] = [5]
        /// Days ago whose management backup was interrupted (partial folder, Failed CR).
        public var failedManagementDaysAgo: [Int] = [8]
        /// Days ago whose management backup ran hours late.
        public var misalignedDaysAgo: [Int] = [12]
        /// Days ago with no portal run at all.
        public var skippedPortalDaysAgo: [Int] = []
        /// The WAL archive: one segment every so many seconds, continuously.
        public var walEvery: TimeInterval = 300
        /// Days ago whose WAL archive lost two segments at noon (a hole that ends recovery windows).
        public var walHoleDaysAgo: [Int] = [16]
        /// Whether the management repository has a WAL archive at all.
        public var walArchive = true
        /// Days ago whose first site archive has a byte flipped inside its deflate data (size unchanged): only
        /// `dr-audit verify` can tell.
        public var corruptedArchiveDaysAgo: [Int] = [15]
        /// Which archive of those runs: 0 the system backup, 1 the first site's.
        public var corruptedArchiveIndex = 1
        public var unrecognizedFiles = ["upload-check.txt"]
        public var clusterExports = true
        public var saveEncryptionSecret = true
        public var portalSchedule = "0 1 * * *"
        public var managementSchedule = "0 1 * * *"

        public init(now: Date) { self.now = now }
    }

    public static let portalUser = "portal-sftp"
    /// A fake secret so tests can prove it never reaches output or the index.
    public static let portalPassword = "Pw-portal-9f3c1e7a"
    public static let managementKey = "HMACKEY0DEMO0ACCESS"
    public static let managementSecret = "Sk-mgmt-2b8d4f6a0c1e"

    /// Writes the environment and returns the config file's URL.
    @discardableResult
    public static func write(to dir: URL, options: Options) throws -> URL {
        let fm = FileManager.default
        let portalDir = dir.appendingPathComponent("storage/portal")
        let repo = dir.appendingPathComponent("storage/management")
        try fm.createDirectory(at: portalDir, withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("backup/apic"), withIntermediateDirectories: true)
        try fm.createDirectory(at: repo.appendingPathComponent("archive/apic/12-1"), withIntermediateDirectories: true)

        func file(_ url: URL, _ text: String) throws {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

        let today = UTC.parts(options.now)
        let day0 = UTC.date(year: today.year, month: today.month, day: today.day)!
        var portalRecords: [String] = []
        var managementRecords: [String] = []
        var infoLines: [String] = []
        var lastGood: String?
        var fullLabel: String?
        var recordNumber = 0
        // WAL: segment n is written until walBase + n × walEvery and archived then.
        let walBase = day0.addingTimeInterval(Double(-options.days) * 86400)
        func segment(at time: Date) -> WALSegment {
            WALSegment(timeline: 1, number: UInt64((time.timeIntervalSince(walBase) / options.walEvery).rounded(.up)))
        }

        for daysAgo in stride(from: options.days, through: 0, by: -1) {
            let runDay = day0.addingTimeInterval(Double(-daysAgo) * 86400)
            let portalStart = runDay.addingTimeInterval(3600 + 5)
            guard portalStart < options.now.addingTimeInterval(-600) else { continue }

            if !options.skippedPortalDaysAgo.contains(daysAgo) {
                var names = [PortalFileName.format(kind: .system, site: nil, time: portalStart)]
                for (i, site) in options.sites.enumerated() {
                    if options.missedSiteDaysAgo.contains(daysAgo) && i == 1 { continue }
                    names.append(
                        PortalFileName.format(
                            kind: .site, site: site, time: portalStart.addingTimeInterval(Double(30 + 25 * i))))
                }
                for (i, name) in names.enumerated() {
                    var archive = portalArchive(name)
                    if i == options.corruptedArchiveIndex && options.corruptedArchiveDaysAgo.contains(daysAgo) {
                        archive[archive.count / 2] ^= 0x5a
                    }
                    try fm.createDirectory(at: portalDir, withIntermediateDirectories: true)
                    try archive.write(to: portalDir.appendingPathComponent(name))
                    recordNumber += 1
                    portalRecords.append(
                        portalRecord(name: String(format: "portal-record-%05d", recordNumber), file: name))
                }
            }

            let start = runDay.addingTimeInterval(options.misalignedDaysAgo.contains(daysAgo) ? 4.5 * 3600 : 3600)
            let stop = start.addingTimeInterval(290)
            let isFull = fullLabel == nil || daysAgo % 7 == 0
            let stamp = label(start)
            let id = isFull ? stamp + "F" : "\(fullLabel!)_\(stamp)I"
            let labelDir = repo.appendingPathComponent("backup/apic/\(id)")
            // pgBackRest's layout: each file gzip-compressed under the label that stored it; an incremental
            // stores what changed (1259) and references the rest (PG_VERSION) in its full backup.
            let page = Data(String(repeating: "page of \(stamp) ", count: 40).utf8)
            let version = Data("12\n".utf8)
            try fm.createDirectory(
                at: labelDir.appendingPathComponent("pg_data/base/1"), withIntermediateDirectories: true)
            let storedPage = Deflate.compress(page)
            try storedPage.write(to: labelDir.appendingPathComponent("pg_data/base/1/1259.gz"))
            let storedVersion = Deflate.compress(version)
            if isFull { try storedVersion.write(to: labelDir.appendingPathComponent("pg_data/PG_VERSION.gz")) }
            if options.failedManagementDaysAgo.contains(daysAgo) {
                // Interrupted: data written, no manifest, never listed in backup.info.
                managementRecords.append(
                    managementRecord(id: id, type: isFull ? "full" : "incremental", phase: "Failed", stop: nil))
                continue
            }
            func entry(_ content: Data, stored: Data, reference: String?) -> String {
                "{\"checksum\":\"\(SHA1.hex(content))\",\(reference.map { "\"reference\":\"\($0)\"," } ?? "")\"repo-size\":\(stored.count),\"size\":\(content.count),\"timestamp\":\(Int(start.timeIntervalSince1970))}"
            }
            let manifest = """
                [backrest]
                backrest-format=5
                backrest-version="2.33"

                [backup]
                backup-label="\(id)"
                \(isFull ? "" : "backup-prior=\"\(lastGood!)\"\n")backup-reference="\(isFull ? id : "\(fullLabel!),\(id)")"
                backup-timestamp-start=\(Int(start.timeIntervalSince1970))
                backup-timestamp-stop=\(Int(stop.timeIntervalSince1970))
                backup-type="\(isFull ? "full" : "incr")"

                [backup:option]
                option-compress=true
                option-compress-type="gz"

                [target:file]
                pg_data/PG_VERSION=\(entry(version, stored: storedVersion, reference: isFull ? nil : fullLabel))
                pg_data/base/1/1259=\(entry(page, stored: storedPage, reference: nil))

                """
            try file(labelDir.appendingPathComponent("backup.manifest"), manifest)
            try file(labelDir.appendingPathComponent("backup.manifest.copy"), manifest)
            infoLines.append(
                "\(id)="
                    + infoJSON(
                        type: isFull ? "full" : "incr", prior: isFull ? nil : lastGood, start: start, stop: stop,
                        wal: (segment(at: start), segment(at: stop)))
            )
            managementRecords.append(
                managementRecord(id: id, type: isFull ? "full" : "incremental", phase: "Ready", stop: stop))
            if isFull { fullLabel = id }
            lastGood = id
        }
        let info = """
            [backrest]
            backrest-format=5
            backrest-version="2.33"

            [backup:current]
            \(infoLines.joined(separator: "\n"))

            [db]
            db-catalog-version=201909212
            db-control-version=1201
            db-id=1
            db-system-id=6950431063426373660
            db-version="12"

            [db:history]
            1={"db-catalog-version":201909212,"db-control-version":1201,"db-system-id":6950431063426373660,"db-version":"12"}

            """
        try file(repo.appendingPathComponent("backup/apic/backup.info"), info)
        try file(repo.appendingPathComponent("backup/apic/backup.info.copy"), info)
        try file(repo.appendingPathComponent("archive/apic/archive.info"), "[db]\ndb-id=1\ndb-version=\"12\"\n")
        if options.walArchive {
            try writeWAL(
                to: repo.appendingPathComponent("archive/apic/12-1"), base: walBase, every: options.walEvery,
                until: options.now.addingTimeInterval(-600),
                holes: options.walHoleDaysAgo.map { day0.addingTimeInterval(Double(-$0) * 86400 + 12 * 3600) })
        }
        for name in options.unrecognizedFiles {
            try file(portalDir.appendingPathComponent(name), "written by a storage health check\n")
        }

        try file(
            dir.appendingPathComponent("portal_cr.yaml"),
            """
            apiVersion: portal.apiconnect.ibm.com/v1beta1
            kind: PortalCluster
            metadata:
              name: portal
              namespace: apic
            spec:
              version: 10.0.5.8
              profile: n1xc2.m8
              originalUID: 5f1c3a9e-7d2b-4e8a-9c61-2b7f0d4e8a11
              encryptionSecret:
                secretName: apic-ptl-enc-key
              portalBackup:
                protocol: sftp
                host: sftp.backups.example.com
                port: 22
                path: /backups/portal
                credentials: portal-backup-secret
                schedule: "\(options.portalSchedule)"

            """)
        try file(
            dir.appendingPathComponent("management_cr.yaml"),
            """
            apiVersion: management.apiconnect.ibm.com/v1beta1
            kind: ManagementCluster
            metadata:
              name: management
              namespace: apic
            spec:
              version: 10.0.5.8
              originalUID: 0e88ecfa-1b6d-4f0a-8e2c-6d9b3f7a5c20
              databaseBackup:
                protocol: objstore
                s3provider: ibm
                host: s3.eu-gb.cloud-object-storage.appdomain.cloud/eu-standard
                path: apic-backups/management
                credentials: mgmt-backup-secret
                schedule: "\(options.managementSchedule)"

            """)
        try file(
            dir.appendingPathComponent("portal-backup-secret.yaml"),
            """
            apiVersion: v1
            kind: Secret
            metadata:
              name: portal-backup-secret
            type: Opaque
            data:
              username: \(b64(portalUser))
              password: \(b64(portalPassword))

            """)
        try file(
            dir.appendingPathComponent("mgmt-backup-secret.yaml"),
            """
            apiVersion: v1
            kind: Secret
            metadata:
              name: mgmt-backup-secret
            type: Opaque
            data:
              username: \(b64(managementKey))
              password: \(b64(managementSecret))

            """)
        if options.saveEncryptionSecret {
            try file(
                dir.appendingPathComponent("portal_enc_key.yaml"),
                """
                apiVersion: v1
                kind: Secret
                metadata:
                  name: apic-ptl-enc-key
                data:
                  encryption_secret: \(b64("0123456789abcdef0123456789abcdef"))

                """)
        }
        if options.clusterExports {
            try file(
                dir.appendingPathComponent("portalbackups.json"),
                "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n" + portalRecords.joined(separator: ",\n")
                    + "\n]}\n")
            try file(
                dir.appendingPathComponent("managementbackups.json"),
                "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
                    + managementRecords.joined(separator: ",\n") + "\n]}\n")
        }
        let config = dir.appendingPathComponent("dr-audit.yaml")
        try file(
            config,
            """
            # dr-audit sample: the CRs name SFTP and S3 targets; this audit reads local copies of them.
            database: ./dr-audit.sqlite
            portal:
              cr: ./portal_cr.yaml
              secret: ./portal-backup-secret.yaml
            \(options.saveEncryptionSecret ? "  encryptionSecret: ./portal_enc_key.yaml\n" : "")\
              target:
                protocol: local
                path: ./storage/portal
            management:
              cr: ./management_cr.yaml
              secret: ./mgmt-backup-secret.yaml
              target:
                protocol: local
                path: ./storage/management
            \(options.clusterExports ? "cluster:\n  portalBackups: ./portalbackups.json\n  managementBackups: ./managementbackups.json\n" : "")\
            pairing:
              tolerance: 30m
              rpo: 26h

            """)
        return config
    }

    /// A pgBackRest archive: `<first 16>/<segment>-<sha1>.gz`, each file's mtime its archive time; the two segments
    /// archived from each hole's time on are left out.
    static func writeWAL(to folder: URL, base: Date, every: TimeInterval, until end: Date, holes: [Date]) throws {
        let fm = FileManager.default
        // Holes before the archive begins lose nothing.
        let missing = Set(
            holes.filter { $0 >= base }.flatMap { hole -> [UInt64] in
                let n = UInt64((hole.timeIntervalSince(base) / every).rounded(.up))
                return [n, n + 1]
            })
        var number: UInt64 = 1
        var madeFolder: String?
        while base.addingTimeInterval(Double(number) * every) <= end {
            defer { number += 1 }
            guard !missing.contains(number) else { continue }
            let name = WALSegment(timeline: 1, number: number).name
            let folderName = String(name.prefix(16))
            if madeFolder != folderName {
                try fm.createDirectory(at: folder.appendingPathComponent(folderName), withIntermediateDirectories: true)
                madeFolder = folderName
            }
            let hex = String(number, radix: 16)
            let checksum = String(repeating: "0", count: 40 - hex.count) + hex
            let path = folder.appendingPathComponent("\(folderName)/\(name)-\(checksum).gz").path
            // POSIX calls: Foundation's createFile and setAttributes take milliseconds a file, and these are thousands.
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            // A real gzip stream (of a stand-in for 16 MiB of WAL), so `verify --deep` reads it whole.
            let body = Deflate.compress(Data("wal \(name)\n".utf8))
            let written = body.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard fd >= 0, written == body.count else {
                if fd >= 0 { close(fd) }
                throw DRAuditError("demo: cannot write \(path): \(String(cString: strerror(errno)))")
            }
            let archived = Int(base.addingTimeInterval(Double(number) * every).timeIntervalSince1970)
            var times = [timespec(tv_sec: archived, tv_nsec: 0), timespec(tv_sec: archived, tv_nsec: 0)]
            futimens(fd, &times)
            close(fd)
        }
    }

    /// A portal backup as the portal writes one: a gzip-compressed tar of the site's (or system's) dump files.
    static func portalArchive(_ name: String) -> Data {
        let dump = Data(String(repeating: "INSERT INTO node VALUES ('\(name)');\n", count: 60).utf8)
        let config = Data("{\"backup\": \"\(name)\", \"format\": 1}\n".utf8)
        return Deflate.compress(
            TarWriter.archive([(name: "config.json", data: config), (name: "dump.sql", data: dump)]))
    }

    static func label(_ date: Date) -> String {
        let c = UTC.parts(date)
        return String(format: "%04d%02d%02d-%02d%02d%02d", c.year, c.month, c.day, c.hour, c.minute, c.second)
    }

    static func infoJSON(type: String, prior: String?, start: Date, stop: Date, wal: (WALSegment, WALSegment)) -> String
    {
        let priorText = prior.map { "\"\($0)\"" } ?? "null"
        return """
            {"backrest-format":5,"backrest-version":"2.33","backup-archive-start":"\(wal.0.name)",\
            "backup-archive-stop":"\(wal.1.name)","backup-error":false,"backup-info-repo-size":2369186,\
            "backup-info-repo-size-delta":2369186,"backup-info-size":20162900,"backup-info-size-delta":20162900,\
            "backup-prior":\(priorText),"backup-timestamp-start":\(Int(start.timeIntervalSince1970)),\
            "backup-timestamp-stop":\(Int(stop.timeIntervalSince1970)),"backup-type":"\(type)","db-id":1,\
            "option-archive-check":true,"option-archive-copy":false,"option-backup-standby":false,\
            "option-checksum-page":true,"option-compress":true,"option-hardlink":false,"option-online":true}
            """
    }

    static func portalRecord(name: String, file: String) -> String {
        let type = file.hasPrefix(PortalFileName.systemPrefix) ? "system" : "site"
        return """
              {"apiVersion": "portal.apiconnect.ibm.com/v1beta1", "kind": "PortalBackup",
               "metadata": {"name": "\(name)", "namespace": "apic"},
               "spec": {"type": "\(type)", "crType": "record", "portalCluster": "portal"},
               "status": {"phase": "Ready", "fullBackupName": "\(file)"}}
            """
    }

    static func managementRecord(id: String, type: String, phase: String, stop: Date?) -> String {
        let name = "mgmt-record-" + id.lowercased().replacingOccurrences(of: "_", with: "-")
        let info = stop.map { ", \"info\": {\"rangeEnd\": \(Int($0.timeIntervalSince1970))}" } ?? ""
        return """
              {"apiVersion": "management.apiconnect.ibm.com/v1beta1", "kind": "ManagementBackup",
               "metadata": {"name": "\(name)", "namespace": "apic"},
               "spec": {"type": "\(type)", "crType": "record", "clusterName": "management"},
               "status": {"phase": "\(phase)", "id": "\(id)"\(info)}}
            """
    }
}
