#!/usr/bin/env python3
"""Push-latency measurement for one running gateway (helper of scripts/bench/bench-push.sh).

Measures PUT latency of one 10-series group, always to the SAME group
{job="bench",instance="timed"} (so the store does not grow while measuring): N
sequential requests on one keep-alive connection after a warm-up, first on the store
as found (empty), then after filling it with G groups x 10 series through T parallel
keep-alive connections, then again. Prints both medians and p99s, the loaded/empty
ratio of the medians, PASS/FAIL for ratio <= 1.5, and a final SUMMARY line.

A raw socket client instead of http.client or wrk: http.client adds ~50 us per request
in Python, and wrk neither stops after N requests nor reports uncorrected percentiles
(it applies a coordinated-omission correction).

Usage: scripts/bench/bench_push.py PORT NAME [--timed N] [--groups G] [--threads T]
Exit status: 0 PASS, 1 FAIL, 2 the gateway could not be reached.
"""

import argparse
import math
import socket
import statistics
import sys
import threading
import time
import http.client

TARGET_RATIO = 1.5
WARMUP_REQUESTS = 200
WARMUP_CAP_S = 2.0
TIMED_PATH = "/metrics/job/bench/instance/timed"
SOCKET_TIMEOUT_S = 30
MAX_RECONNECTS = 20


def ten_series_body():
    lines = ["# HELP bench_series A benchmark gauge.", "# TYPE bench_series gauge"]
    lines += [f'bench_series{{idx="{i}",kind="bench"}} {i}.5' for i in range(10)]
    return ("\n".join(lines) + "\n").encode()


BODY = ten_series_body()


def put_request(port, path, body=BODY):
    head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: text/plain; version=0.0.4\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class KeepAliveClient:
    """One HTTP/1.1 connection to 127.0.0.1:port, reused for sequential requests."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""
        self.reconnects = 0

    def _connect(self):
        if self.sock is not None:
            self.sock.close()
            self.reconnects += 1
            if self.reconnects > MAX_RECONNECTS:
                raise ConnectionError(f"gave up after {MAX_RECONNECTS} reconnects")
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=SOCKET_TIMEOUT_S)
        # Requests are written in one sendall; Nagle would only add delay.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the gateway")
        self.buf += chunk

    def roundtrip(self, request):
        """Sends one request, reads the whole response; returns (status, seconds)."""
        if self.sock is None:
            self._connect()
        start = time.perf_counter()
        try:
            self.sock.sendall(request)
            status, close = self._read_response()
        except (ConnectionError, socket.timeout):
            # The server may close an idle keep-alive connection: reconnect and retry once.
            self._connect()
            start = time.perf_counter()
            self.sock.sendall(request)
            status, close = self._read_response()
        elapsed = time.perf_counter() - start
        if close:
            self._connect()
        return status, elapsed

    def _read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            while b"0\r\n\r\n" not in self.buf:
                self._fill()
            self.buf = self.buf.split(b"0\r\n\r\n", 1)[1]
        else:
            length = int(headers.get("content-length", "0"))
            while len(self.buf) < length:
                self._fill()
            self.buf = self.buf[length:]
        return status, headers.get("connection") == "close"

    def close(self):
        if self.sock is not None:
            self.sock.close()


def timed_run(port, count, cap_s):
    """Up to WARMUP_REQUESTS untimed, then up to `count` timed PUTs (stops at cap_s)."""
    client = KeepAliveClient(port)
    request = put_request(port, TIMED_PATH)
    try:
        warmup_deadline = time.monotonic() + WARMUP_CAP_S
        for _ in range(WARMUP_REQUESTS):
            client.roundtrip(request)
            if time.monotonic() > warmup_deadline:
                break
        latencies, non200 = [], 0
        deadline = time.monotonic() + cap_s
        for _ in range(count):
            status, elapsed = client.roundtrip(request)
            latencies.append(elapsed)
            non200 += status != 200
            if time.monotonic() > deadline:
                break
    finally:
        client.close()
    return latencies, non200


def parallel_puts(port, paths, body, threads, cap_s):
    """PUTs `body` to every path in `paths` over `threads` keep-alive connections,
    stopping at `cap_s`. Returns (PUTs answered, non-200, client errors, seconds)."""
    done = [0] * threads
    bad = [0] * threads
    errors = []
    deadline = time.monotonic() + cap_s

    def worker(k):
        client = KeepAliveClient(port)
        try:
            for path in paths[k::threads]:
                if time.monotonic() > deadline:
                    return
                status, _ = client.roundtrip(put_request(port, path, body))
                done[k] += 1
                bad[k] += status != 200
        except (OSError, ValueError) as err:
            errors.append(err)
        finally:
            client.close()

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()) + SOCKET_TIMEOUT_S + 5)
    return sum(done), sum(bad), errors, time.monotonic() - started


def fill(port, groups, threads, cap_s):
    """PUTs groups g0..g{groups-1} over `threads` connections; returns (PUTs, non-200, s)."""
    paths = [f"/metrics/job/bench/instance/g{i}" for i in range(groups)]
    done, bad, errors, elapsed = parallel_puts(port, paths, BODY, threads, cap_s)
    if errors:
        print(f"   fill errors: {errors[0]!r} ({len(errors)} clients)")
    return done, bad, elapsed


def count_groups(port):
    """Groups in the store: one push_time_seconds series each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode("utf-8", "replace")
    finally:
        conn.close()
    return sum(1 for line in body.splitlines() if line.startswith("push_time_seconds{"))


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def describe(latencies, non200, wanted):
    values = sorted(latencies)
    median_us = statistics.median(values) * 1e6
    p99_us = percentile(values, 99) * 1e6
    notes = [f"{len(values)} requests"]
    if len(values) < wanted:
        notes.append("time cap hit")
    if non200:
        notes.append(f"{non200} non-200")
    return median_us, p99_us, f"median {median_us:9.1f} us   p99 {p99_us:9.1f} us   ({', '.join(notes)})"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("name")
    parser.add_argument("--timed", type=int, default=2000, help="timed requests per measurement")
    parser.add_argument("--groups", type=int, default=10000, help="groups in the loaded store")
    parser.add_argument("--threads", type=int, default=4, help="parallel clients for the fill")
    parser.add_argument("--timed-cap", type=float, default=10, help="seconds per measurement, at most")
    parser.add_argument("--fill-cap", type=float, default=30, help="seconds for the fill, at most")
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        empty, empty_bad = timed_run(args.port, args.timed, args.timed_cap)
        e50, e99, text = describe(empty, empty_bad, args.timed)
        print(f"   empty store  : {text}")
        puts, fill_bad, seconds = fill(args.port, args.groups, args.threads, args.fill_cap)
        groups = count_groups(args.port) - 1  # minus the timed group
        print(f"   fill         : {groups} groups x 10 series in {seconds:.1f} s "
              f"({puts} PUTs on {args.threads} connections, {fill_bad} non-200)")
        loaded, loaded_bad = timed_run(args.port, args.timed, args.timed_cap)
        l50, l99, text = describe(loaded, loaded_bad, args.timed)
        print(f"   loaded store : {text}")
    except (OSError, ValueError, http.client.HTTPException) as err:
        print(f"   error: gateway on 127.0.0.1:{args.port} failed: {err!r}")
        return 2
    ratio, p99_ratio = l50 / e50, l99 / e99
    reasons = [f"median loaded/empty = {ratio:.2f} (p99 {p99_ratio:.2f}), target <= {TARGET_RATIO}"]
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    if groups < args.groups:
        verdict = "FAIL"
        reasons.append(f"store reached only {groups} of {args.groups} groups within {args.fill_cap:.0f} s")
    if empty_bad or loaded_bad:
        verdict = "FAIL"
        reasons.append("some timed pushes were not answered 200")
    print(f"   {verdict}: {'; '.join(reasons)}")
    print(f"SUMMARY {args.name:<24s} empty p50 {e50:9.1f} us  loaded p50 {l50:9.1f} us  "
          f"ratio {ratio:6.2f}  ({groups} groups)  {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
