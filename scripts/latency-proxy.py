#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that makes a loopback server look far away (or slow), for the bench and tests.

  --upstream HOST:PORT   where to forward each connection
  --delay SECONDS        hold each chunk the client sends for this long after it arrives, then forward it; chunks
                         are held independently, so requests in flight overlap as they would on a long link
  --trickle-after N      after N bytes from the server on a connection, pass the rest on one byte a second
                         (a slow sender)
Prints "ready PORT" on stdout once listening; exits when its stdin closes (the test or bench that started it).
"""
import argparse
import asyncio
import os
import socket
import sys
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--upstream", required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--delay", type=float, default=0.0)
parser.add_argument("--trickle-after", type=int, default=None)
args = parser.parse_args()
up_host, _, up_port = args.upstream.rpartition(":")


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def client_to_server(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def forward():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(forward())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + args.delay, data or None))
            if not data:
                break
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()


async def server_to_client(reader, writer):
    sent = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if args.trickle_after is not None and sent + len(data) > args.trickle_after:
                head = max(0, args.trickle_after - sent)
                writer.write(data[:head])
                for i in range(head, len(data)):
                    await writer.drain()
                    await asyncio.sleep(1)
                    writer.write(data[i:i + 1])
            else:
                writer.write(data)
            sent += len(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
    except OSError:
        client_writer.close()
        return
    nodelay(client_writer)
    nodelay(up_writer)
    await asyncio.gather(client_to_server(client_reader, up_writer), server_to_client(up_reader, client_writer),
                         return_exceptions=True)
    up_writer.close()
    client_writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", args.port)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)

    def exit_with_parent():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    async with server:
        await server.serve_forever()


asyncio.run(main())
