import CCrypto
import Foundation

/// SHA-1 through OpenSSL's libcrypto: pgBackRest records the SHA-1 of every file's original content.
public final class SHA1 {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha1(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Lower-case hex, as pgBackRest writes it.
    public func hexDigest() -> String {
        var digest = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    public static func hex(_ data: Data) -> String {
        let sha = SHA1()
        data.withUnsafeBytes { sha.update($0) }
        return sha.hexDigest()
    }
}

/// Checks one pgBackRest file's stored bytes against its manifest entry: decompressed (gzip, or raw deflate in a
/// raw bundle) or as stored, the content must have the recorded size and SHA-1.
public final class ContentChecker {
    public enum Encoding: Hashable, Sendable { case none, gzip, rawDeflate }

    public let encoding: Encoding
    private let inflater: Inflater?
    private let sha = SHA1()
    public private(set) var storedBytes: Int64 = 0
    public private(set) var contentBytes: Int64 = 0

    public init(_ encoding: Encoding) {
        self.encoding = encoding
        switch encoding {
        case .none: inflater = nil
        case .gzip: inflater = Inflater(.gzip)
        case .rawDeflate: inflater = Inflater(.rawDeflate)
        }
    }

    public func feed(_ chunk: UnsafeRawBufferPointer) throws {
        storedBytes += Int64(chunk.count)
        if let inflater {
            try inflater.feed(chunk) { content in
                contentBytes += Int64(content.count)
                sha.update(content)
            }
        } else {
            contentBytes += Int64(chunk.count)
            sha.update(chunk)
        }
    }

    /// What the content came to: its size and SHA-1, or the stream problem that stopped it.
    public func finish() throws -> (size: Int64, sha1: String) {
        try inflater?.finish()
        return (contentBytes, sha.hexDigest())
    }
}
