import Foundation

@testable import DRAuditCore

func utc(_ text: String) -> Date {
    guard let d = UTC.parseRFC3339(text) else { fatalError("bad test time \(text)") }
    return d
}

func portalFile(_ name: String, size: Int64 = 100) -> PortalBackupFile {
    let object = StorageObject(key: name, size: size, mtime: nil)
    guard let file = Classifier.portalFile(object) else { fatalError("test name does not parse: \(name)") }
    return file
}

/// A portal run's files: system at `at`, then each site a few seconds later.
func run(_ at: String, sites: [String], system: Bool = true) -> [PortalBackupFile] {
    let start = utc(at)
    var files: [PortalBackupFile] = []
    if system { files.append(portalFile(PortalFileName.format(kind: .system, site: nil, time: start))) }
    for (i, site) in sites.enumerated() {
        files.append(
            portalFile(
                PortalFileName.format(kind: .site, site: site, time: start.addingTimeInterval(Double(10 * (i + 1))))))
    }
    return files
}

func full(_ at: String, stopAfter: TimeInterval = 0, status: ManagementBackup.Status = .complete) -> ManagementBackup {
    let t = utc(at)
    return ManagementBackup(
        id: label(t) + "F", format: .pgbackrest, type: "full", start: t, stop: t.addingTimeInterval(stopAfter),
        prior: nil, status: status)
}

func incr(_ at: String, on prior: ManagementBackup, full: ManagementBackup, status: ManagementBackup.Status = .complete)
    -> ManagementBackup
{
    let t = utc(at)
    return ManagementBackup(
        id: "\(full.id)_\(label(t))I", format: .pgbackrest, type: "incr", start: t, stop: t,
        prior: prior.id, status: status)
}

func label(_ d: Date) -> String {
    let c = UTC.parts(d)
    return String(format: "%04d%02d%02d-%02d%02d%02d", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

let siteA = "portal-web.think.org@e1@enterprise"
let siteB = "portal-web.think.org@sales-org@main-catalog"
let siteC = "developer.example.com@partners@b2b"

// MARK: - A WAL archive for tests: one segment every `walEvery` seconds from `walBase`, timeline 1.

let walArchive = "archive/apic/15-1"
let walBase = utc("2026-01-01T00:00:00Z")
let walEvery: TimeInterval = 300

/// The segment being written at `time` (archived at the end of its stretch).
func walSegment(at time: Date) -> WALSegment {
    WALSegment(timeline: 1, number: UInt64((time.timeIntervalSince(walBase) / walEvery).rounded(.up)))
}

/// When a segment is archived.
func walTime(_ segment: WALSegment) -> Date { walBase.addingTimeInterval(Double(segment.number) * walEvery) }

/// The backup with the WAL range it would record: from the segment at its start to the one at its stop.
func archived(_ backup: ManagementBackup) -> ManagementBackup {
    var backup = backup
    backup.wal = WALRange(archive: walArchive, start: walSegment(at: backup.start), stop: walSegment(at: backup.time))
    return backup
}

/// Every segment archived from `from` through `to`, but those written at the times in `holes`.
func walInventory(from: Date, to: Date, holes: [Date] = []) -> WALInventory {
    let missing = Set(holes.map { walSegment(at: $0).number })
    let segments = (walSegment(at: from).number...walSegment(at: to).number).filter { !missing.contains($0) }
    return WALInventory(
        segments.map { n in
            let segment = WALSegment(timeline: 1, number: n)
            return (walArchive, segment, walTime(segment))
        })
}

extension Pairing {
    /// The restorable backups by status, chain and Failed CRs alone: WAL is not looked at.
    static func restorable(_ backups: [ManagementBackup], contradicted: Set<String> = []) -> [ManagementBackup] {
        let withoutWAL = backups.map { backup in
            var backup = backup
            backup.wal = nil
            return backup
        }
        return Restorability.assess(withoutWAL, wal: WALInventory(), contradicted: contradicted).restorable
    }
}
