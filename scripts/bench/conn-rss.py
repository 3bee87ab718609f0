#!/usr/bin/env python3
"""Memory and threads of a gateway idle and holding many open connections.

    scripts/bench/conn-rss.py BINARY [CONNECTIONS]      (default 2000)

Starts BINARY on 127.0.0.1:0 with scripts/lib/gwlib.py (any pushgate, or upstream's
prometheus-pushgateway), prints VmRSS, VmHWM and Threads from
/proc/PID/status when idle, then opens CONNECTIONS connections (half of them
with a partial request head), waits a second and prints the figures again,
and finally checks that a push and a scrape still answer. Raises its own
descriptor limit to the hard limit for the client sockets.
"""

import os
import re
import resource
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import gwlib  # noqa: E402


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                fields[key] = value.strip()
    return fields


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gw = gwlib.Gateway(binary, "gateway")
    gw.start()
    proc, port = gw.proc, gw.port
    try:
        time.sleep(1)
        print(f"idle:                 {status(proc.pid)}")
        conns = []
        for i in range(count):
            c = socket.create_connection(("127.0.0.1", port))
            if i % 2 == 0:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            conns.append(c)
        time.sleep(1)
        print(f"{count} connections: {status(proc.pid)}")
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics/job/probe", data=b"probe 1\n", method="PUT"
        )
        t = time.time()
        urllib.request.urlopen(req, timeout=10).read()
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        ok = re.search(rb'probe\{instance="",job="probe"\} 1', body) is not None
        print(f"push+scrape with them open: {time.time() - t:.3f} s, {'ok' if ok else 'MISSING'}")
        for c in conns:
            c.close()
    finally:
        gw.stop()


if __name__ == "__main__":
    main()
