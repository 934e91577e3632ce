#!/usr/bin/env python3
"""An SFTP version 3 server on stdin/stdout that misbehaves, for sshd's `Subsystem sftp` in tests.

  repeat      every READDIR answers the same names again and never says EOF
  empty-name  the folder holds an entry with an empty name and a directory's mode

Every folder opens; nothing else is served.
"""
import struct
import sys

MODE = sys.argv[1]
IN, OUT = sys.stdin.buffer, sys.stdout.buffer


def read_exactly(n):
    data = b""
    while len(data) < n:
        chunk = IN.read(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data


def send(kind, payload):
    OUT.write(struct.pack(">IB", len(payload) + 1, kind) + payload)
    OUT.flush()


def string(b):
    return struct.pack(">I", len(b)) + b


def entry(name, mode):
    attrs = struct.pack(">IQIII", 0x1 | 0x4 | 0x8, 100, mode, 1700000000, 1700000000)
    return string(name) + string(name) + attrs


answered = set()  # handles whose one batch went out (empty-name)
opened = 0
while True:
    length, kind = struct.unpack(">IB", read_exactly(5))
    body = read_exactly(length - 1)
    if kind == 1:  # INIT
        send(2, struct.pack(">I", 3))
        continue
    (rid,) = struct.unpack(">I", body[:4])
    if kind == 11:  # OPENDIR: a new handle each time
        opened += 1
        send(102, struct.pack(">I", rid) + string(b"h%d" % opened))
    elif kind == 12:  # READDIR
        (hlen,) = struct.unpack(">I", body[4:8])
        handle = body[8 : 8 + hlen]
        if MODE == "repeat":
            names = [entry(b"a.txt", 0o100644), entry(b"b.txt", 0o100644)]
        elif handle in answered:
            send(101, struct.pack(">II", rid, 1) + string(b"") + string(b""))  # EOF
            continue
        else:
            answered.add(handle)
            names = [entry(b"", 0o040755)]
        send(104, struct.pack(">II", rid, len(names)) + b"".join(names))
    else:  # CLOSE and anything else: OK
        send(101, struct.pack(">II", rid, 0) + string(b"") + string(b""))
