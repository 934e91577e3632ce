import Foundation

/// How to reach a Kubernetes API server: from a kubeconfig's context, or from a pod's service account.
public struct KubeEndpoint: Sendable, CustomStringConvertible {
    public var server: String
    public var caPEM: Data?
    public var insecureSkipTLSVerify = false
    /// Secret material: never printed (see `description`).
    public var token: String?
    public var clientCertificatePEM: Data?
    public var clientKeyPEM: Data?
    public var namespace: String?

    public init(server: String) { self.server = server }

    public var description: String { "KubeEndpoint(\(server), credentials redacted)" }

    /// Resolves `context` (or the current context) of a parsed kubeconfig. File references
    /// (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`) are returned for the caller to read.
    public static func fromKubeconfig(_ document: DocumentNode, context wanted: String?) throws -> (
        endpoint: KubeEndpoint, files: [String: String]
    ) {
        guard let name = wanted ?? document["current-context"]?.string, !name.isEmpty else {
            throw DocumentError("no context given and no current-context set")
        }
        func named(_ list: String, _ item: String) throws -> DocumentNode {
            guard let entry = document[list]?.items?.first(where: { $0["name"]?.string == item }),
                let value = entry[String(list.dropLast())]
            else {
                throw DocumentError("\(list) has no entry named \(item)")
            }
            return value
        }
        let context = try named("contexts", name)
        guard let clusterName = context["cluster"]?.string else {
            throw DocumentError("context \(name) names no cluster")
        }
        let cluster = try named("clusters", clusterName)
        guard let server = cluster["server"]?.string, server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw DocumentError("cluster \(clusterName) has no http(s) server")
        }
        var endpoint = KubeEndpoint(server: server.hasSuffix("/") ? String(server.dropLast()) : server)
        var files: [String: String] = [:]
        func decode(_ key: String, _ node: DocumentNode?) throws -> Data? {
            guard let text = node?.string else { return nil }
            guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
                throw DocumentError("\(key) is not valid base64")
            }
            return data
        }
        endpoint.caPEM = try decode(
            "clusters.\(clusterName).certificate-authority-data", cluster["certificate-authority-data"])
        if let file = cluster["certificate-authority"]?.string { files["ca"] = file }
        endpoint.insecureSkipTLSVerify = cluster["insecure-skip-tls-verify"]?.string == "true"
        endpoint.namespace = context["namespace"]?.string
        if let userName = context["user"]?.string {
            let user = try named("users", userName)
            endpoint.token = user["token"]?.string
            if let file = user["tokenFile"]?.string { files["token"] = file }
            endpoint.clientCertificatePEM = try decode(
                "users.\(userName).client-certificate-data", user["client-certificate-data"])
            endpoint.clientKeyPEM = try decode("users.\(userName).client-key-data", user["client-key-data"])
            if let file = user["client-certificate"]?.string { files["cert"] = file }
            if let file = user["client-key"]?.string { files["key"] = file }
            if user["exec"] != nil || user["auth-provider"] != nil, endpoint.token == nil,
                endpoint.clientCertificatePEM == nil, files.isEmpty
            {
                throw DocumentError(
                    "user \(userName) authenticates through an exec or auth-provider plugin; give dr-audit a token or client certificate"
                )
            }
        }
        return (endpoint, files)
    }

    /// The API paths of the backup CRs, in the namespace.
    public static func backupListPaths(namespace: String) -> [(kind: ClusterRecord.Kind, path: String)] {
        let ns = S3Location.encode(namespace)
        return [
            (.portalBackup, "/apis/portal.apiconnect.ibm.com/v1beta1/namespaces/\(ns)/portalbackups"),
            (.managementBackup, "/apis/management.apiconnect.ibm.com/v1beta1/namespaces/\(ns)/managementbackups"),
            (.edbBackup, "/apis/postgresql.k8s.enterprisedb.io/v1/namespaces/\(ns)/backups"),
        ]
    }
}
