#!/usr/bin/env python3
"""Push and scrape latency on one keep-alive connection.

    scripts/bench/keepalive-latency.py BINARY [PUSHES]      (default 3000)

Starts BINARY on 127.0.0.1:0 (scripts/lib/gwlib.py), sends PUSHES 10-series PUTs to one group
on one keep-alive connection (the first 500 are warm-up), then 1,000
scrapes, and prints p50 and p99 of the timed pushes and p50 of the scrapes.
Interleave runs of two binaries to compare them on a busy machine.
"""

import http.client
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import gwlib  # noqa: E402


def main():
    binary = sys.argv[1]
    pushes = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    gw = gwlib.Gateway(binary, "gateway")
    gw.start()
    port = gw.port
    try:
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
        gw.stop()


if __name__ == "__main__":
    main()
