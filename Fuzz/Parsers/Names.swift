import DRAuditCore
import Foundation

// Each input line is an object key. Beyond "does not crash", checks the properties the
// scanner and the restore plan rely on: a parsed portal name formats back to itself, and parsing never
// invents a time the name does not carry.

func fuzzNames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var objects: [(object: StorageObject, kind: ObjectKind)] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let key = String(line)
        if let parsed = PortalFileName.parse(key) {
            let formatted = PortalFileName.format(kind: parsed.kind, site: parsed.site, time: parsed.time)
            guard formatted == key else {
                fatalError("portal name does not round-trip: \(key.debugDescription) -> \(formatted.debugDescription)")
            }
        }
        if let label = PgBackRest.parseLabel(key) {
            guard label.time >= (PgBackRest.parseLabel(label.fullLabel)?.time ?? .distantFuture) else {
                fatalError("pgBackRest label older than its full backup: \(key.debugDescription)")
            }
        }
        _ = Barman.parseBackupID(key)
        _ = UTC.parseRFC3339(key)
        _ = DurationText.parse(key)
        _ = Classifier.classify(key, role: .portal)
        objects.append(
            (
                StorageObject(key: key, size: Int64(key.utf8.count), mtime: nil),
                Classifier.classify(key, role: .management)
            ))
    }
    // Metadata files get their own key's text as content, so the builders see both readable and garbage files.
    let contents = Dictionary(Classifier.metadataKeys(objects).map { ($0, text) }, uniquingKeysWith: { a, _ in a })
    _ = Classifier.managementBackups(objects, contents: contents)
    return 0
}
