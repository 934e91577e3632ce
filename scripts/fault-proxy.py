#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for tests, on 127.0.0.1.

Forwards every request (Host header untouched, so SigV4 still verifies upstream) and injects faults:
  --slowdown N         answer the first N requests with 503 SlowDown
  --die-after N        after N forwarded requests, exit at once (the server vanishes mid-scan)
  --truncate-after N   after N forwarded requests, send bodies cut in half (garbled XML)
Prints "ready PORT" on stdout once listening.
"""
import argparse
import http.client
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import serve

parser = argparse.ArgumentParser()
parser.add_argument("--upstream", required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--slowdown", type=int, default=0)
parser.add_argument("--die-after", type=int, default=None)
parser.add_argument("--truncate-after", type=int, default=None)
args = parser.parse_args()
upstream = urllib.parse.urlsplit(args.upstream)
lock = threading.Lock()
state = {"slowdown": args.slowdown, "forwarded": 0}

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message></Error>')


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with lock:
            if state["slowdown"] > 0:
                state["slowdown"] -= 1
                self.send_response(503)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(SLOWDOWN)))
                self.end_headers()
                self.wfile.write(SLOWDOWN)
                return
            if args.die_after is not None and state["forwarded"] >= args.die_after:
                os._exit(0)
            state["forwarded"] += 1
            truncate = args.truncate_after is not None and state["forwarded"] > args.truncate_after
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items()}
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        if truncate:
            data = data[: len(data) // 2]
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
serve(server)
