#!/usr/bin/env python3
"""Push and scrape latency on one keep-alive connection.

    scripts/bench/keepalive-latency.py BINARY [PUSHES]      (default 3000)

Starts BINARY on a loopback port, sends PUSHES 10-series PUTs to one group
on one keep-alive connection (the first 500 are warm-up), then 1,000
scrapes, and prints p50 and p99 of the timed pushes and p50 of the scrapes.
Interleave runs of two binaries to compare them on a busy machine.
"""

import http.client
import socket
import subprocess
import sys
import time


def main():
    binary = sys.argv[1]
    pushes = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit(f"{binary} did not listen on {port}")
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = "".join(f'm{i}{{a="x"}} {i}\n' for i in range(10)).encode()
        times = []
        for _ in range(pushes):
            t = time.perf_counter()
            conn.request("PUT", "/metrics/job/latency", body)
            resp = conn.getresponse()
            resp.read()
            times.append(time.perf_counter() - t)
            if resp.status != 200:
                sys.exit(f"push answered {resp.status}")
        timed = sorted(times[500:])
        scrapes = []
        for _ in range(1000):
            t = time.perf_counter()
            conn.request("GET", "/metrics")
            conn.getresponse().read()
            scrapes.append(time.perf_counter() - t)
        scrapes.sort()
        p50 = timed[len(timed) // 2] * 1e6
        p99 = timed[int(len(timed) * 0.99)] * 1e6
        print(f"{binary}: push p50 {p50:.0f} us, p99 {p99:.0f} us; "
              f"scrape p50 {scrapes[len(scrapes) // 2] * 1e6:.0f} us")
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    main()
