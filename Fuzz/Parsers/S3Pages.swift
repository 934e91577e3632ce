import DRAuditCore
import Foundation

// A ListObjectsV2 page or an S3 error body as the server (or a broken proxy) sent it.

func fuzzS3Pages(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let body = Data(UnsafeBufferPointer(start: data, count: size))
    if let page = try? S3XML.parseList(body) {
        guard page.objects.allSatisfy({ !$0.key.isEmpty && $0.size >= 0 }) else {
            fatalError("page with an empty key or negative size")
        }
    }
    _ = S3XML.parseError(body)
    return 0
}
