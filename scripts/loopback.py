"""Shared start-up of the test helper servers in scripts/ (imported by fault-proxy.py and fake-kube-api.py)."""
import os
import sys
import threading


def serve(server):
    """Prints "ready PORT" for the test that started us, then serves until that test ends.

    The test holds our stdin open; when it ends (or dies), stdin reaches EOF and we exit with it.
    """
    server.daemon_threads = True

    def exit_with_parent():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()
