#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for tests, on 127.0.0.1.

Forwards every request (Host header untouched, so SigV4 still verifies upstream) and injects faults:
  --slowdown N         answer the first N requests with 503 SlowDown
  --die-after N        after N forwarded requests, exit at once (the server vanishes mid-scan)
  --truncate-after N   after N forwarded requests, send bodies cut in half (garbled XML)
  --repeat-token       answer every listing with the first NextContinuationToken it saw (a server in a loop)
  --replay-first-page  answer every continued listing with the first page again, under a new token each time
                       (keys that never advance)
  --trickle            send each body one byte a second (a slow sender)
  --drip N             send each body at N bytes a second, without end (faster than any low-speed limit)
  --deny-continuation N  answer the Nth continued listing (continuation-token) with 403 AccessDenied
  --drop-body-once     the first object GET (not a listing): announce the whole body, send half, close the
                       connection (a transfer dropped mid-stream; a client may resume with Range)
Prints "ready PORT" on stdout once listening.
"""
import argparse
import http.client
import os
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import serve

parser = argparse.ArgumentParser()
parser.add_argument("--upstream", required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--slowdown", type=int, default=0)
parser.add_argument("--die-after", type=int, default=None)
parser.add_argument("--truncate-after", type=int, default=None)
parser.add_argument("--repeat-token", action="store_true")
parser.add_argument("--replay-first-page", action="store_true")
parser.add_argument("--trickle", action="store_true")
parser.add_argument("--drip", type=int, default=None)
parser.add_argument("--deny-continuation", type=int, default=None)
parser.add_argument("--drop-body-once", action="store_true")
args = parser.parse_args()
upstream = urllib.parse.urlsplit(args.upstream)
lock = threading.Lock()
state = {"slowdown": args.slowdown, "forwarded": 0, "token": None, "first_page": None, "replays": 0,
         "continuations": 0, "dropped": False}
TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
          b'<Message>Access Denied</Message></Error>')

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message></Error>')


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        continued = "continuation-token=" in self.path
        if args.drip is not None:
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(1 << 40))
            self.end_headers()
            while True:  # until the client gives up
                self.wfile.write(b" " * args.drip)
                self.wfile.flush()
                time.sleep(1)
        with lock:
            if args.deny_continuation is not None and continued:
                state["continuations"] += 1
                if state["continuations"] == args.deny_continuation:
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(DENIED)))
                    self.end_headers()
                    self.wfile.write(DENIED)
                    return
            if args.replay_first_page and continued and state["first_page"] is not None:
                state["replays"] += 1
                data = TOKEN.sub(b"<NextContinuationToken>replay-%d</NextContinuationToken>" % state["replays"],
                                 state["first_page"])
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
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
            drop = (args.drop_body_once and not state["dropped"] and self.command == "GET"
                    and "list-type" not in self.path)
            if drop:
                state["dropped"] = True
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
        if drop:
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            conn.close()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        match = TOKEN.search(data)
        with lock:
            if match and args.repeat_token:
                if state["token"] is None:
                    state["token"] = match.group(1)
                data = TOKEN.sub(b"<NextContinuationToken>" + state["token"] + b"</NextContinuationToken>", data)
            if match and args.replay_first_page and state["first_page"] is None:
                state["first_page"] = data
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if args.trickle:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(1)
        else:
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
serve(server)
