import DRAuditCore

// The metadata files a scan reads from storage (pgBackRest backup.info INI,
// barman-cloud backup.info key=value). Errors are expected; crashes and hangs are not.

func fuzzMetadataFiles(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? PgBackRest.parseInfo(text)
    _ = try? Barman.parseInfo(text)
    return 0
}
