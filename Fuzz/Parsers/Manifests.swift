import DRAuditCore
import Foundation

// What a verification reads as metadata: pgBackRest backup.manifest (INI with JSON values, streamed), the
// tablespaces line of a barman-cloud backup.info, and the plan a manifest makes against a listing.

func fuzzManifests(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let parser = PgBackRestManifest.Parser()
    var manifest: PgBackRestManifest?
    do {
        let half = size / 2
        try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[0..<half]))
        try parser.feed(UnsafeRawBufferPointer(rebasing: bytes[half..<size]))
        manifest = try parser.finish()
    } catch {}
    if let manifest {
        let backup = ManagementBackup(
            id: manifest.label ?? "20260101-010000F", format: .pgbackrest, type: "full", start: Date(), stop: nil,
            prior: nil, status: .complete)
        let listing = Dictionary(
            manifest.files.prefix(50).map {
                ("backup/apic/\($0.reference ?? backup.id)/\($0.name).gz", $0.repoSize ?? 0)
            },
            uniquingKeysWith: { a, _ in a })
        _ = ManagementPlan.pgBackRest(
            backup: backup, manifest: manifest, stanzaFolder: "backup/apic", listing: listing, deep: true)
    }
    _ = Barman.parseTablespaceOIDs(String(decoding: bytes, as: UTF8.self))
    return 0
}
