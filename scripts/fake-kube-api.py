#!/usr/bin/env python3
"""A fake Kubernetes API server over TLS on 127.0.0.1, for tests of dr-audit's live cluster source.

Serves List answers (items without kind, as the real API does) and single objects (with kind) for the CRs in --fixture
({"portalbackups": [...], "managementbackups": [...], "backups": [...], "portalclusters": [...], ...}; a missing
key answers 404 as an uninstalled CRD does) and single Secrets from {"secrets": {name: object}}, paged with limit/continue (at most --max-page items a page). Checks
"Authorization: Bearer <--token>" (401 otherwise) and answers 403 outside --namespace.
The fixture file is read again when it changes, so a test can change the cluster between two commands.
With --trickle, each answer's body is sent one byte a second (a slow sender).
Prints "ready PORT" once listening.
"""
import argparse
import json
import os
import ssl
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import serve

parser = argparse.ArgumentParser()
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--fixture", required=True)
parser.add_argument("--namespace", default="apic")
parser.add_argument("--max-page", type=int, default=1000)
parser.add_argument("--trickle", action="store_true")
args = parser.parse_args()
fixture_state = {"mtime": None, "fixture": None}


def current_fixture():
    mtime = os.stat(args.fixture).st_mtime_ns
    if fixture_state["mtime"] != mtime:
        with open(args.fixture) as f:
            fixture_state["fixture"] = json.load(f)
        fixture_state["mtime"] = mtime
    return fixture_state["fixture"]


GROUPS = {"portalbackups": "portal.apiconnect.ibm.com/v1beta1", "managementbackups": "management.apiconnect.ibm.com/v1beta1",
          "backups": "postgresql.k8s.enterprisedb.io/v1", "portalclusters": "portal.apiconnect.ibm.com/v1beta1",
          "managementclusters": "management.apiconnect.ibm.com/v1beta1", "apiconnectclusters": "apiconnect.ibm.com/v1beta1"}
KINDS = {"portalbackups": "PortalBackup", "managementbackups": "ManagementBackup", "backups": "Backup",
         "portalclusters": "PortalCluster", "managementclusters": "ManagementCluster",
         "apiconnectclusters": "APIConnectCluster"}


class API(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if args.trickle:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(1)
            return
        self.wfile.write(data)

    def status(self, code, reason, message):
        self.answer(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code})

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {args.token}":
            return self.status(401, "Unauthorized", "Unauthorized")
        fixture = current_fixture()
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        # /api/v1/namespaces/<ns>/secrets/<name>: one Secret from fixture["secrets"]
        if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "secrets":
            if parts[3] != args.namespace:
                return self.status(403, "Forbidden", f'secrets "{parts[5]}" is forbidden')
            secret = fixture.get("secrets", {}).get(parts[5])
            if secret is None:
                return self.status(404, "NotFound", f'secrets "{parts[5]}" not found')
            return self.answer(200, secret)
        # /apis/<group>/<version>/namespaces/<ns>/<resource>/<name>: one object, with its kind and apiVersion
        if len(parts) == 7 and parts[0] == "apis" and parts[3] == "namespaces":
            resource, name = parts[5], parts[6]
            if f"{parts[1]}/{parts[2]}" != GROUPS.get(resource) or resource not in fixture:
                return self.status(404, "NotFound", "the server could not find the requested resource")
            if parts[4] != args.namespace:
                return self.status(403, "Forbidden", f'{resource} "{name}" is forbidden')
            for item in fixture[resource]:
                if item.get("metadata", {}).get("name") == name:
                    return self.answer(200, {"apiVersion": GROUPS[resource], "kind": KINDS[resource], **item})
            return self.status(404, "NotFound", f'{resource} "{name}" not found')
        # /apis/<group>/<version>/namespaces/<ns>/<resource>
        if len(parts) != 6 or parts[0] != "apis" or parts[3] != "namespaces":
            return self.status(404, "NotFound", "the server could not find the requested resource")
        namespace, resource = parts[4], parts[5]
        if f"{parts[1]}/{parts[2]}" != GROUPS.get(resource) or resource not in fixture:
            return self.status(404, "NotFound", "the server could not find the requested resource")
        if namespace != args.namespace:
            return self.status(403, "Forbidden", f'{resource} is forbidden: cannot list resource "{resource}" in namespace "{namespace}"')
        query = urllib.parse.parse_qs(url.query)
        limit = min(int(query.get("limit", ["1000"])[0]), args.max_page)
        start = int(query.get("continue", ["0"])[0])
        items = fixture[resource][start:start + limit]
        more = start + limit < len(fixture[resource])
        self.answer(200, {"apiVersion": GROUPS[resource], "kind": resource.capitalize() + "List",
                          "metadata": {"resourceVersion": "1", "continue": str(start + limit) if more else ""}, "items": items})


server = ThreadingHTTPServer(("127.0.0.1", 0), API)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(args.cert, args.key)
server.socket = context.wrap_socket(server.socket, server_side=True)
serve(server)
