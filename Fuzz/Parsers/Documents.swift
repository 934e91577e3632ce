import DRAudit
import DRAuditCore
import Foundation

// The operator's documents and the cluster's exports, read as the binary reads them: YAML through libyaml's
// events or JSON through `JSONEvents`, composed by `DocumentBuilder` within `DocumentLimits`, then read as a
// config, a subsystem CR, a Secret, a kubeconfig and a backup CR export. Errors are expected; crashes, hangs and
// memory beyond the limits are not. One property besides: an export read an item at a time gives the records
// the whole document gives.

func fuzzDocuments(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var whole: [ClusterRecord]?
    if let root = try? Documents.parse(text, name: "fuzz") {
        _ = try? Config.parse(root, file: URL(fileURLWithPath: "/fuzz/dr-audit.yaml"))
        for role in Role.allCases {
            _ = try? SubsystemCR.parse(root, role: role)
        }
        if let secret = try? SavedSecret.parse(root) { _ = try? secret.backupCredentials() }
        _ = try? KubeEndpoint.fromKubeconfig(root, context: nil)
        whole = try? ClusterExport.records(root, role: .portal)
    }
    var streamed: [ClusterRecord] = []
    do {
        let rest = try Documents.parseExport(text, name: "fuzz") { index, item in
            streamed.append(try ClusterExport.record(item, index: index, role: .portal))
        }
        streamed += try ClusterExport.records(rest, role: .portal)
    } catch {
        streamed = []
        guard whole == nil || whole!.isEmpty else {
            fatalError("an export read whole gave \(whole!.count) records, read an item at a time: \(error)")
        }
        return 0
    }
    // Read whole, a List's items are at most 200,000 nodes in all; inputs here are far smaller.
    if let whole, whole != streamed {
        fatalError("an export read an item at a time differs from the whole: \(streamed.count) vs \(whole.count)")
    }
    return 0
}
