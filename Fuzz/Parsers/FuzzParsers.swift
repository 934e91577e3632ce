import Foundation

// `fuzz-parsers <archives|documents|manifests|metadata-files|names|s3-pages> [libFuzzer options] [corpus dirs]`: one binary for every
// parser fuzzer. SwiftPM links executables through their own entry point, so libFuzzer's `main` cannot be
// used; its driver is called instead.
typealias FuzzInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: FuzzInput
) -> CInt

let fuzzerNames = ["archives", "documents", "manifests", "metadata-files", "names", "s3-pages"]

func fuzzer(named name: String) -> FuzzInput? {
    switch name {
    case "archives": fuzzArchives
    case "manifests": fuzzManifests
    case "names": fuzzNames
    case "metadata-files": fuzzMetadataFiles
    case "s3-pages": fuzzS3Pages
    case "documents": fuzzDocuments
    default: nil
    }
}

@main
struct FuzzParsers {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let fuzzer = fuzzer(named: arguments[1]) else {
            print("usage: fuzz-parsers <\(fuzzerNames.joined(separator: "|"))> [libFuzzer options] [corpus dirs]")
            exit(2)
        }
        // libFuzzer sees the program name followed by its own options.
        var argv: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
        var argc = CInt(argv.count - 1)
        argv.withUnsafeMutableBufferPointer { buffer in
            var base = buffer.baseAddress
            exit(LLVMFuzzerRunDriver(&argc, &base, fuzzer))
        }
    }
}
