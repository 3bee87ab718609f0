#!/usr/bin/env python3
"""Memory and threads of a gateway idle and holding many open connections.

    scripts/bench/conn-rss.py BINARY [CONNECTIONS]      (default 2000)

Starts BINARY on a loopback port (any pushgate, or upstream's
prometheus-pushgateway), prints VmRSS, VmHWM and Threads from
/proc/PID/status when idle, then opens CONNECTIONS connections (half of them
with a partial request head), waits a second and prints the figures again,
and finally checks that a push and a scrape still answer. Raises its own
descriptor limit to the hard limit for the client sockets.
"""

import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request


def status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                fields[key] = value.strip()
    return fields


def start(binary):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [binary, f"--web.listen-address=127.0.0.1:{port}"]
    if "prometheus-pushgateway" in binary:
        args.append("--persistence.file=")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"{binary} did not answer on port {port}")


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    proc, port = start(binary)
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
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
