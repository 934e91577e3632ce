import DRAuditCore
import Foundation

/// Reads backup CRs straight from the Kubernetes API server (kubeconfig or in-cluster service account).
final class KubeClient {
    let endpoint: KubeEndpoint
    let namespace: String
    private let http: CurlClient
    /// Items per page (`limit`), continued with the server's `continue` token.
    static let pageSize = 500

    init(endpoint: KubeEndpoint, namespace: String, timeout: TimeInterval) throws {
        self.endpoint = endpoint
        self.namespace = namespace
        http = try CurlClient(
            timeout: timeout,
            tls: .init(
                caPEM: endpoint.caPEM, clientCertificatePEM: endpoint.clientCertificatePEM,
                clientKeyPEM: endpoint.clientKeyPEM,
                insecureSkipVerify: endpoint.insecureSkipTLSVerify), sigv4: nil)
    }

    var location: String { "\(endpoint.server) namespace \(namespace)" }

    /// The client a live `cluster:` section describes.
    static func make(for cluster: Config.Cluster) throws -> KubeClient {
        let endpoint = try endpoint(for: cluster)
        guard let namespace = cluster.namespace ?? endpoint.namespace else {
            throw DRAuditError("cluster.namespace is not set and the context names none")
        }
        return try KubeClient(endpoint: endpoint, namespace: namespace, timeout: 30)
    }

    /// Loads a kubeconfig (its file references resolved relative to it) or the pod's service account.
    static func endpoint(for cluster: Config.Cluster) throws -> KubeEndpoint {
        if cluster.inCluster {
            let dir = "/var/run/secrets/kubernetes.io/serviceaccount"
            let env = ProcessInfo.processInfo.environment
            guard let host = env["KUBERNETES_SERVICE_HOST"], let port = env["KUBERNETES_SERVICE_PORT"] else {
                throw DRAuditError(
                    "cluster.inCluster: KUBERNETES_SERVICE_HOST/PORT are not set; is dr-audit running in a pod?")
            }
            var endpoint = KubeEndpoint(server: "https://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            endpoint.token = try readText(dir + "/token", what: "service account token").trimmingCharacters(
                in: .whitespacesAndNewlines)
            endpoint.caPEM = Data(try readText(dir + "/ca.crt", what: "service account CA").utf8)
            endpoint.namespace = try? readText(dir + "/namespace", what: "namespace").trimmingCharacters(
                in: .whitespacesAndNewlines)
            return endpoint
        }
        let path =
            cluster.kubeconfig?.path ?? ProcessInfo.processInfo.environment["KUBECONFIG"]?.split(separator: ":").first
            .map(String.init)
            ?? NSHomeDirectory() + "/.kube/config"
        let url = URL(fileURLWithPath: path)
        let document = try Documents.load(url, what: "kubeconfig")
        do {
            var (endpoint, files) = try KubeEndpoint.fromKubeconfig(document, context: cluster.context)
            let base = url.deletingLastPathComponent()
            func resolve(_ file: String) -> String { URL(fileURLWithPath: file, relativeTo: base).path }
            if let f = files["ca"] {
                endpoint.caPEM = Data(try readText(resolve(f), what: "certificate-authority").utf8)
            }
            if let f = files["cert"] {
                endpoint.clientCertificatePEM = Data(try readText(resolve(f), what: "client-certificate").utf8)
            }
            if let f = files["key"] { endpoint.clientKeyPEM = Data(try readText(resolve(f), what: "client-key").utf8) }
            if let f = files["token"] {
                endpoint.token = try readText(resolve(f), what: "tokenFile").trimmingCharacters(
                    in: .whitespacesAndNewlines)
            }
            return endpoint
        } catch let error as DocumentError {
            throw DRAuditError("kubeconfig \(path): \(error.message)")
        }
    }

    private static func readText(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw DRAuditError("cannot read the \(what) \(path)")
        }
        return text
    }

    /// Every backup CR of the three kinds. A kind whose CRD is not installed (404) has none; the EDB
    /// Backup CRD exists only from 10.0.7.
    func backupRecords() throws -> [ClusterRecord] {
        var records: [ClusterRecord] = []
        for (kind, path) in KubeEndpoint.backupListPaths(namespace: namespace) {
            let items = try list(path, optional: kind == .edbBackup)
            do {
                records += try ClusterExport.records(
                    .map(["items": .list(items)]), role: kind == .portalBackup ? .portal : .management, itemKind: kind)
            } catch {
                throw DRAuditError(
                    "Kubernetes API answer for \(path): \(DRAuditError.oneLine(error))", code: "CLUSTER_UNREACHABLE")
            }
        }
        return records
    }
}

extension KubeClient {
    /// The subsystem CR from the API server: the one named `name`, or the only one in the namespace.
    /// A PortalCluster/ManagementCluster is preferred over an APIConnectCluster holding both.
    func subsystemCR(_ role: Role, name: String?) throws -> DocumentNode {
        let found = try subsystemCRs(role, name: name)
        let own = Self.subsystemResources(role)[0]
        guard found.count == 1 else {
            throw DRAuditError(
                found.isEmpty
                    ? "Kubernetes API \(endpoint.server): no \(own.kind) or APIConnectCluster\(name.map { " named \($0)" } ?? "") in namespace \(namespace)"
                    : "Kubernetes API \(endpoint.server): \(found.count) \(role.rawValue) CRs in namespace \(namespace); set \(role.rawValue).crName"
            )
        }
        return found[0]
    }

    /// The API groups and resources of the subsystem CRs: the role's own kind, then the top-level CR.
    static func subsystemResources(_ role: Role) -> [(apiVersion: String, resource: String, kind: String)] {
        [
            role == .portal
                ? ("portal.apiconnect.ibm.com/v1beta1", "portalclusters", "PortalCluster")
                : ("management.apiconnect.ibm.com/v1beta1", "managementclusters", "ManagementCluster"),
            ("apiconnect.ibm.com/v1beta1", "apiconnectclusters", "APIConnectCluster"),
        ]
    }

    /// The subsystem CRs named `name` (or all) of the role's own kind, or, when the namespace has none, the
    /// APIConnectClusters. Each carries its `kind` (List items carry none).
    func subsystemCRs(_ role: Role, name: String?) throws -> [DocumentNode] {
        var found: [DocumentNode] = []
        for (group, resource, kind) in Self.subsystemResources(role) where found.isEmpty {
            for item in try list(
                "/apis/\(group)/namespaces/\(S3Location.encode(namespace))/\(resource)", optional: true)
            {
                guard case .map(var fields) = item else { continue }
                fields["kind"] = .scalar(kind)  // List items carry no kind
                if name == nil || fields["metadata"]?["name"]?.string == name { found.append(.map(fields)) }
            }
        }
        return found
    }

    /// One Secret by name, as a document `SavedSecret` can parse.
    func secret(_ name: String) throws -> DocumentNode {
        let response = try get(
            "/api/v1/namespaces/\(S3Location.encode(namespace))/secrets/\(S3Location.encode(name))",
            what: "Secret \(name)")
        return try Documents.parse(
            String(decoding: response.body, as: UTF8.self), name: "Kubernetes API answer for Secret \(name)")
    }

    /// One Secret by name, or nil when the namespace holds none of that name (404).
    func secretIfPresent(_ name: String) throws -> DocumentNode? {
        try secretIfPresentRaw(name).map {
            try Documents.parse(String(decoding: $0, as: UTF8.self), name: "Kubernetes API answer for Secret \(name)")
        }
    }

    /// One Secret's API answer as it came (JSON), or nil when the namespace holds none of that name.
    func secretIfPresentRaw(_ name: String) throws -> Data? {
        let response = try get(
            "/api/v1/namespaces/\(S3Location.encode(namespace))/secrets/\(S3Location.encode(name))",
            what: "Secret \(name)", allow404: true)
        return response.status == 404 ? nil : response.body
    }

    /// All items of a List, following `continue`. `optional`: a 404 (CRD not installed) is an empty list.
    func list(_ path: String, optional: Bool = false) throws -> [DocumentNode] {
        var items: [DocumentNode] = []
        var token: String?
        repeat {
            var url = path + "?limit=\(Self.pageSize)"
            if let token { url += "&continue=" + S3Location.encode(token) }
            let response = try get(
                url, what: String(path.split(separator: "/").last ?? ""), allow404: optional && token == nil)
            if response.status == 404 { return [] }
            let document = try Documents.parse(
                String(decoding: response.body, as: UTF8.self), name: "Kubernetes API answer for \(path)",
                limits: .apiAnswer)
            items += document["items"]?.items ?? []
            token = document["metadata", "continue"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return items
    }

    func get(_ pathAndQuery: String, what: String, allow404: Bool = false) throws -> CurlClient.Response {
        let response: CurlClient.Response
        do {
            response = try http.request(
                "GET", endpoint.server + pathAndQuery,
                headers: endpoint.token.map { ["Authorization: Bearer \($0)"] } ?? [])
        } catch let transport as CurlClient.TransportError {
            throw DRAuditError("Kubernetes API \(endpoint.server): \(transport.message)", code: "CLUSTER_UNREACHABLE")
        }
        switch response.status {
        case 200: return response
        case 404 where allow404: return response
        case 401:
            throw DRAuditError(
                "Kubernetes API \(endpoint.server): 401 Unauthorized: the token or client certificate was not accepted",
                code: "CLUSTER_UNREACHABLE")
        case 403:
            throw DRAuditError(
                "Kubernetes API \(endpoint.server): 403 Forbidden: may not read \(what) in namespace \(namespace) (see the Role in deploy/)",
                code: "CLUSTER_UNREACHABLE")
        case 404:
            throw DRAuditError(
                "Kubernetes API \(endpoint.server): 404: no \(what) in namespace \(namespace)",
                code: "CLUSTER_UNREACHABLE")
        default:
            throw DRAuditError(
                "Kubernetes API \(endpoint.server): HTTP \(response.status) reading \(what)",
                code: "CLUSTER_UNREACHABLE")
        }
    }
}
