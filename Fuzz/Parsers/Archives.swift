import DRAuditCore

// Archives as they come off a target: the .tar.gz checker (zlib, then the tar structure) and the plain tar
// checker, fed in uneven chunks. Problems are expected; crashes, hangs and leaks are not.

func fuzzArchives(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    for format in [ArchiveChecker.Format.tarGzip, .tar] {
        let checker = ArchiveChecker(format)
        var start = 0
        var step = 1
        while start < size {
            let end = min(size, start + step)
            do { try checker.feed(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) } catch { break }
            start = end
            step = step * 3 % 1021 + 1
        }
        _ = checker.finish()
    }
    return 0
}
