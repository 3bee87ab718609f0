#!/usr/bin/env python3
"""Side-by-side benchmark of pushgate and upstream's Pushgateway (helper of scripts/bench/bench.sh).

Owns the workloads, their interleaving and the verdicts of issue 8; building the
binaries is bench.sh's. Starts every gateway given on 127.0.0.1:0 at once, then runs
each workload on each gateway in turn (the order alternates per round, so drift in
the machine's load hits all of them alike). Timed requests go through wrk with
scripts/bench/wrk.lua (a C client: Python would add ~50 us to every request); the
fill uses parallel keep-alive Python clients, bounded in count and time.

Usage: scripts/bench/bench.py --gateway NAME=BIN [--gateway NAME=BIN ...] [--upstream BIN]
The first --gateway is the one judged against upstream (the shipped musl binary).
Exit status: 0 all targets met, 1 some target missed, 2 setup error.
"""

import argparse
import gzip
import http.client
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import gwlib  # noqa: E402
from bench_push import KeepAliveClient, parallel_puts, put_request  # noqa: E402
from benchfmt import (fmt_bytes, fmt_kb, fmt_rps, fmt_s, fmt_us, fmt_whole_bytes,  # noqa: E402
                      ratio_text)

WRK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk.lua")
WRK_TIMEOUT = "120s"
ROUNDS = 3
PUSH_100K_ROUNDS = 5
TIMED_PATH = "/metrics/job/bench/instance/timed"
TIMED_SERIES = 10
TPUT_PATH = "/metrics/job/tput/instance/t%d"
TPUT_GROUPS = 256
# Series per fill group. Upstream re-gathers its whole store on every push, so its fill
# costs (PUTs x store size): with 100-series groups it does not reach 100k series in
# 100 s on 2 cores; with 500 it takes ~30 s. Both gateways get the same groups.
FILL_SERIES = int(os.environ.get("BENCH_FILL_SERIES", "500"))
FILL_THREADS = 4
SMALL, LARGE = 10_000, 100_000
FILL_CAP_S = {SMALL: 30, LARGE: 90}
SETTLE_S = 1.0
HTTP_TIMEOUT_S = 120

# Issue 8 targets.
PUSH_SPEEDUP = 20
PUSH_SELF_RATIO = 1.5
SCRAPE_SPEEDUP = 10
RSS_SERIES_FRACTION = 1 / 3
IDLE_RSS_KB = 3 * 1024


class BenchError(Exception):
    """A gateway or tool failed in a way that makes the run meaningless."""


# ---------------------------------------------------------------- gateways

class Gw:
    """One gateway under test: its binary, flags, process and results."""

    def __init__(self, name, binary, tmpdir):
        self.name = name
        self.binary = binary
        self.upstream = gwlib.is_upstream(binary)
        self.tmpdir = tmpdir
        self.persist_file = None
        self.proc = None
        self.results = {}
        self.notes = []

    def flags(self):
        flags = ["--web.listen-address=127.0.0.1:0"]
        if self.persist_file:
            # A long interval: the only write is the one on shutdown that we time.
            flags += [f"--persistence.file={self.persist_file}", "--persistence.interval=1h"]
        elif self.upstream:
            flags += ["--persistence.file="]
        return flags

    def start(self):
        self.proc = gwlib.Gateway(self.binary, self.name)
        self.proc.flags = self.flags()
        self.proc.start()

    @property
    def port(self):
        return self.proc.port

    @property
    def pid(self):
        return self.proc.proc.pid

    def stop(self):
        if self.proc is not None:
            self.proc.stop()

    def url(self):
        return f"http://127.0.0.1:{self.port}"


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


def http_get(port, path, headers=None, timeout=HTTP_TIMEOUT_S):
    """One GET on a fresh connection: returns (status, response headers, body, seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        started = time.perf_counter()
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - started
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body, elapsed
    finally:
        conn.close()


def http_delete(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("DELETE", path)
        return conn.getresponse().status
    finally:
        conn.close()


def gauge_body(family, series):
    lines = [f"# HELP {family} A benchmark gauge.", f"# TYPE {family} gauge"]
    lines += [f'{family}{{idx="{i}",kind="bench"}} {i}.5' for i in range(series)]
    return ("\n".join(lines) + "\n").encode()


def count_series(port, family):
    """Sample lines of `family` in a plain scrape (the store's size as seen by scrapers)."""
    status, _, body, _ = http_get(port, "/metrics")
    if status != 200:
        raise BenchError(f"GET /metrics answered {status}")
    prefix = (family + "{").encode()
    return sum(1 for line in body.split(b"\n") if line.startswith(prefix))


# ---------------------------------------------------------------- wrk

WRK_LINE = re.compile(r"^BENCH (.*)$", re.M)


def wrk(gw, seconds, threads=1, connections=1, env=None, headers=()):
    """Runs wrk for `seconds` against gw; returns the numbers of its BENCH line."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s",
           f"--timeout={WRK_TIMEOUT}", "-s", WRK_SCRIPT]
    for header in headers:
        cmd += ["-H", header]
    cmd.append(gw.url())
    full_env = dict(os.environ, BENCH_THREADS=str(threads), **(env or {}))
    try:
        out = subprocess.run(cmd, env=full_env, capture_output=True, text=True,
                             timeout=seconds + 150, preexec_fn=gwlib._die_with_parent)
    except subprocess.TimeoutExpired as err:
        raise BenchError(f"wrk against {gw.name} did not finish") from err
    match = WRK_LINE.search(out.stdout)
    if out.returncode != 0 or not match:
        raise BenchError(f"wrk against {gw.name} failed: {out.stderr.strip() or out.stdout[-300:]}")
    numbers = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
    numbers["rps"] = numbers["requests"] / (numbers["duration_us"] / 1e6)
    return numbers


def note_errors(gw, what, numbers):
    if numbers["errors"] or numbers["non2xx"]:
        gw.notes.append(f"{what}: {numbers['errors']} socket errors, "
                        f"{numbers['non2xx']} non-2xx of {numbers['requests']}")


def interleaved(gws, rounds, measure):
    """Calls measure(gw, round) for every gw, `rounds` times, alternating the order."""
    per_gw = {gw.name: [] for gw in gws}
    for r in range(rounds):
        order = gws if r % 2 == 0 else list(reversed(gws))
        for gw in order:
            per_gw[gw.name].append(measure(gw, r))
    return per_gw


# ---------------------------------------------------------------- workloads

def latency_workload(gws, key, seconds, env, headers=(), rounds=ROUNDS, warmup=False):
    """Sequential requests on one keep-alive connection; stores median p50/p99 over rounds."""
    def measure(gw, r):
        duration = max(seconds, gw.results.get(key + ".min_s", 0))
        if warmup and r == 0:
            wrk(gw, 1, env=env, headers=headers)
        numbers = wrk(gw, duration, env=env, headers=headers)
        note_errors(gw, key, numbers)
        return numbers

    for name, runs in interleaved(gws, rounds, measure).items():
        gw = by_name(gws, name)
        done = [n for n in runs if n["requests"] > 0]
        if not done:
            gw.notes.append(f"{key}: no request completed")
            continue
        gw.results[key] = statistics.median(n["p50"] for n in done)
        gw.results[key + ".p99"] = statistics.median(n["p99"] for n in done)
        gw.results[key + ".n"] = sum(n["requests"] for n in runs)


def throughput_workload(gws, key, seconds, threads, connections, env, headers=(), rounds=2):
    def measure(gw, r):
        numbers = wrk(gw, seconds, threads, connections, env=env, headers=headers)
        note_errors(gw, key, numbers)
        return numbers

    for name, runs in interleaved(gws, rounds, measure).items():
        gw = by_name(gws, name)
        gw.results[key] = statistics.median(n["rps"] for n in runs)


def by_name(gws, name):
    return next(gw for gw in gws if gw.name == name)


def fill(gw, first_group, groups, cap_s):
    """PUTs fill groups first_group.. over FILL_THREADS connections; bounded by cap_s.

    Returns (seconds, PUTs answered 200). A 200 means stored: both gateways answer a
    PUT only after applying it.
    """
    body = gauge_body("bench_fill", FILL_SERIES)
    paths = [f"/metrics/job/fill/instance/g{i}" for i in range(first_group, first_group + groups)]
    done, bad, errors, elapsed = parallel_puts(gw.port, paths, body, FILL_THREADS, cap_s)
    if errors:
        gw.notes.append(f"fill: {errors[0]!r} ({len(errors)} clients)")
    if bad:
        gw.notes.append(f"fill: {bad} non-200 of {done} PUTs")
    return elapsed, done - bad


def fill_to(gws, target):
    """Grows every store to `target` fill series (plus the timed group's ten).

    Counts from the PUTs answered 200, not from a scrape: a scrape leaves caches or
    garbage behind, and RSS is read right after the fill (verify_fill scrapes later).
    """
    wanted_groups = -(-target // FILL_SERIES)
    for gw in gws:
        first = gw.results.get("fill.next", 0)
        elapsed, stored = fill(gw, first, wanted_groups - first, FILL_CAP_S[target])
        gw.results["fill.next"] = wanted_groups
        gw.results["fill.series"] = gw.results.get("fill.series", 0) + stored * FILL_SERIES
        series = gw.results["fill.series"]
        gw.results[f"series@{target}"] = series + TIMED_SERIES
        gw.results[f"fill_s@{target}"] = elapsed
        if series < target:
            gw.notes.append(f"fill to {target:,} series stopped at the {FILL_CAP_S[target]} s cap "
                            f"with {series:,} series: its figures at {target // 1000}k were "
                            f"measured at that size")


def verify_fill(gws):
    """Checks by one scrape that the store holds what the fill's answers said."""
    for gw in gws:
        seen = count_series(gw.port, "bench_fill")
        if seen != gw.results.get("fill.series", 0):
            gw.notes.append(f"a scrape shows {seen:,} fill series, the PUTs said "
                            f"{gw.results.get('fill.series', 0):,}")


def push_env(path=TIMED_PATH, groups=1):
    return {"BENCH_METHOD": "PUT", "BENCH_PATH": path, "BENCH_GROUPS": str(groups),
            "BENCH_SERIES": str(TIMED_SERIES)}


def delete_tput_groups(gws):
    for gw in gws:
        bad = sum(http_delete(gw.port, TPUT_PATH % i) not in (200, 202) for i in range(TPUT_GROUPS))
        if bad:
            gw.notes.append(f"{bad} DELETEs of throughput groups failed")
    # Upstream applies DELETE asynchronously; let it drain before the next phase.
    time.sleep(SETTLE_S)


def probe_get(gws, key, path, headers=None):
    """One untimed-by-wrk GET: body bytes, and a wrk duration long enough for a few requests."""
    for gw in gws:
        status, resp_headers, body, elapsed = http_get(gw.port, path, headers)
        if status != 200:
            raise BenchError(f"{gw.name}: GET {path} answered {status}")
        gw.results[key + ".bytes"] = len(body)
        gw.results[key + ".encoding"] = resp_headers.get("content-encoding", "identity")
        gw.results[key + ".min_s"] = min(30, max(3, int(elapsed * 5) + 1))
        if headers and "gzip" in headers.get("Accept-Encoding", ""):
            gw.results[key + ".plain_bytes"] = len(gzip.decompress(body)) if body[:2] == b"\x1f\x8b" else len(body)


# ---------------------------------------------------------------- persistence

def persistence_works(gw, tmpdir):
    """True if the binary writes --persistence.file on shutdown and restores it on start."""
    path = os.path.join(tmpdir, f"probe-{gw.name}.db")
    probe = Gw(gw.name + "-probe", gw.binary, tmpdir)
    probe.persist_file = path
    try:
        probe.start()
        req = put_request(probe.port, "/metrics/job/probe", gauge_body("bench_probe", 1))
        client = KeepAliveClient(probe.port)
        try:
            status, _ = client.roundtrip(req)
        finally:
            client.close()
        probe.stop()
        if status != 200 or not os.path.exists(path) or os.path.getsize(path) == 0:
            return False
        probe.start()
        return count_series(probe.port, "bench_probe") == 1
    except (OSError, RuntimeError, BenchError, ValueError):
        return False
    finally:
        probe.stop()


def snapshot_and_restart(gw):
    """Times the shutdown (final write of the store) and a restart from that file."""
    before = count_series(gw.port, "bench_fill") if gw.results.get("fill.series") else 0
    started = time.perf_counter()
    gw.proc.proc.terminate()
    try:
        gw.proc.proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        gw.notes.append("shutdown with persistence took over 120 s; killed")
        gw.proc.proc.kill()
        gw.proc.proc.wait(timeout=10)
        return
    gw.results["snapshot_s"] = time.perf_counter() - started
    gw.results["snapshot.bytes"] = os.path.getsize(gw.persist_file) if os.path.exists(gw.persist_file) else 0
    started = time.perf_counter()
    gw.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http_get(gw.port, "/-/ready", timeout=10)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.01)
    gw.results["restart_s"] = time.perf_counter() - started
    after = count_series(gw.port, "bench_fill") if before else 0
    if after != before:
        gw.notes.append(f"restart restored {after:,} of {before:,} fill series")


# ---------------------------------------------------------------- report

def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    load = open("/proc/loadavg").read().split()[:3]
    return (f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}, "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM, {platform.system()} {platform.release()}, "
            f"load average {' '.join(load)} at start")


# (label, result key, formatter, lower is better)
ROWS = [
    ("binary size", "binary.bytes", fmt_bytes, True),
    ("RSS idle (fresh process)", "rss.idle", fmt_kb, True),
    ("push p50, empty store", "push@0", fmt_us, True),
    ("push p99, empty store", "push@0.p99", fmt_us, True),
    ("push throughput, 16 conns, 256 groups", "push.rps", fmt_rps, False),
    ("push p50, 10k series", "push@10k", fmt_us, True),
    ("push p50, 100k series", "push@100k", fmt_us, True),
    ("push p99, 100k series", "push@100k.p99", fmt_us, True),
    ("RSS at 100k series (before any scrape)", "rss.100k", fmt_kb, True),
    ("RSS per series (before any scrape)", "rss.100k.per_series", fmt_whole_bytes, True),
    ("scrape p50, 100k, plain", "scrape.plain", fmt_us, True),
    ("scrape p50, 100k, gzip", "scrape.gzip", fmt_us, True),
    ("scrape throughput, 4 conns, plain", "scrape.plain.rps", fmt_rps, False),
    ("scrape throughput, 4 conns, gzip", "scrape.gzip.rps", fmt_rps, False),
    ("scrape body, plain", "scrape.plain.bytes", fmt_bytes, True),
    ("scrape body, gzip", "scrape.gzip.bytes", fmt_bytes, True),
    ("/api/v1/metrics p50, 100k", "api", fmt_us, True),
    ("/api/v1/metrics body", "api.bytes", fmt_bytes, True),
    ("RSS at 100k after the scrapes", "rss.scraped", fmt_kb, True),
    ("RSS per series after the scrapes", "rss.scraped.per_series", fmt_whole_bytes, True),
    ("peak RSS (VmHWM) after the scrapes", "rss.hwm", fmt_kb, True),
    ("shutdown incl. snapshot write, 100k", "snapshot_s", fmt_s, True),
    ("snapshot file size, 100k", "snapshot.bytes", fmt_bytes, True),
    ("restart from snapshot until ready, 100k", "restart_s", fmt_s, True),
]


def print_table(gws, upstream, twin):
    judged = [gw for gw in gws if not gw.upstream]
    gws = gws + [twin]
    width = max(16, *(len(gw.name) + 2 for gw in gws))
    header = f"{'metric':<40s}" + "".join(f"{gw.name:>{width}s}" for gw in gws)
    if upstream:
        header += "".join(f"  {(gw.name.removeprefix('pushgate-') + ' vs upstream'):>20s}"
                          for gw in judged)
    print(header)
    print("-" * len(header))
    for label, key, fmt, lower in ROWS:
        row = f"{label:<40s}" + "".join(f"{fmt(gw.results.get(key)):>{width}s}" for gw in gws)
        if upstream:
            theirs = upstream.results.get(key)
            row += "".join(f"  {ratio_text(gw.results.get(key), theirs, lower):>20s}" for gw in judged)
        print(row)
    print()
    print(f"stored series: the fill's series ({FILL_SERIES} per group, one family) + the timed "
          f"group's {TIMED_SERIES}; each group adds 2 push-time series too.")
    print(f"{twin.name}: a second {judged[0].name} that stays empty; its push rows come from the "
          f"same rounds as the others' (the same-time reference of the 1.5x target).")
    print("latencies: medians over rounds of wrk's per-round p50/p99 (one keep-alive "
          "connection, sequential requests); throughputs: median over rounds.")
    for gw in gws:
        sizes = ", ".join(f"{gw.results.get(f'series@{t}', 0):,} series filled in "
                          f"{gw.results.get(f'fill_s@{t}', 0):.2f} s" for t in (SMALL, LARGE))
        counts = (f"timed requests: push {gw.results.get('push@0.n', 0)}/"
                  f"{gw.results.get('push@10k.n', 0)}/{gw.results.get('push@100k.n', 0)} "
                  f"(empty/10k/100k), scrape {gw.results.get('scrape.plain.n', 0)}+"
                  f"{gw.results.get('scrape.gzip.n', 0)}, api {gw.results.get('api.n', 0)}")
        print(f"  {gw.name}: {sizes + '; ' if gw is not twin else ''}{counts}")
        for note in gw.notes:
            print(f"  {gw.name}: NOTE {note}")


def verdicts(ours, upstream, twin):
    """Issue 8's targets for the judged gateway: list of (target, PASS/FAIL/n/a, measured)."""
    r, u = ours.results, upstream.results if upstream else {}
    out = []

    def check(target, ok, measured):
        out.append((target, "n/a" if ok is None else ("PASS" if ok else "FAIL"), measured))

    size = u.get(f"series@{LARGE}", 0)
    at = "" if size >= LARGE + TIMED_SERIES else f" (upstream at {size:,} series)"
    if u.get("push@100k") and r.get("push@100k"):
        speedup = u["push@100k"] / r["push@100k"]
        check(f"push p50 at 100k >= {PUSH_SPEEDUP}x lower than upstream", speedup >= PUSH_SPEEDUP,
              f"{speedup:.1f}x{at}")
    else:
        check(f"push p50 at 100k >= {PUSH_SPEEDUP}x lower than upstream", None, "no upstream")
    empty = twin.results.get("push@100k")
    if r.get("push@100k") and empty:
        own = r["push@100k"] / empty
        early = f"; vs own empty store earlier: {r['push@100k'] / r['push@0']:.2f}x" if r.get("push@0") else ""
        check(f"push p50 at 100k <= {PUSH_SELF_RATIO}x own empty-store p50", own <= PUSH_SELF_RATIO,
              f"{own:.2f}x ({fmt_us(r['push@100k'])} vs {fmt_us(empty)} on the empty twin{early})")
    for kind in ("plain", "gzip"):
        key = f"scrape.{kind}.rps"
        target = f"scrape throughput at 100k ({kind}) >= {SCRAPE_SPEEDUP}x upstream"
        if u.get(key) and r.get(key):
            speedup = r[key] / u[key]
            check(target, speedup >= SCRAPE_SPEEDUP,
                  f"{speedup:.1f}x ({fmt_rps(r[key])} vs {fmt_rps(u[key])}){at}")
        else:
            check(target, None, "no upstream")
    key, later = "rss.100k.per_series", "rss.scraped.per_series"
    if u.get(key) and r.get(key):
        fraction = r[key] / u[key]
        after = f"; after the scrapes {r[later] / u[later]:.2f}" if u.get(later) and r.get(later) else ""
        check("RSS per series <= 1/3 of upstream's", fraction <= RSS_SERIES_FRACTION,
              f"{fraction:.2f} of upstream ({r[key]:.0f} B vs {u[key]:.0f} B, before any scrape"
              f"{after}){at}")
    else:
        check("RSS per series <= 1/3 of upstream's", None, "no upstream")
    idle = r.get("rss.idle")
    check("idle RSS < 3 MB (3 MiB)", idle is not None and idle < IDLE_RSS_KB, fmt_kb(idle))
    return out


# ---------------------------------------------------------------- main

def run(gws, twin, tmpdir):
    """All phases, in order; `twin` is an extra copy of gws[0] that stays empty."""
    everyone = gws + [twin]
    for gw in gws:
        gw.results["binary.bytes"] = os.path.getsize(gw.binary)
        supported = persistence_works(gw, tmpdir)
        gw.results["persistence"] = supported
        print(f"   {gw.name}: {gw.binary} ({gw.results['binary.bytes']:,} bytes), "
              f"--persistence.file {'works' if supported else 'does not work: snapshot/restart n/a'}")
    twin.results["persistence"] = gws[0].results["persistence"]
    for gw in everyone:
        if gw.results["persistence"]:
            gw.persist_file = os.path.join(tmpdir, f"{gw.name}.db")
        gw.start()
    time.sleep(SETTLE_S)
    for gw in everyone:
        gw.results["rss.idle"] = rss_kb(gw.pid)

    step("push latency, empty store (3 rounds x 2 s)")
    latency_workload(everyone, "push@0", 2, push_env(), warmup=True)
    step("push throughput (16 connections, 256 groups, 2 rounds x 5 s)")
    throughput_workload(gws, "push.rps", 5, 2, 16, push_env(TPUT_PATH, TPUT_GROUPS))
    delete_tput_groups(gws)

    step(f"fill to {SMALL:,} series")
    fill_to(gws, SMALL)
    step("push latency, 10k series (3 rounds x 2 s)")
    latency_workload(everyone, "push@10k", 2, push_env(), warmup=True)

    step(f"fill to {LARGE:,} series (cap {FILL_CAP_S[LARGE]} s per gateway)")
    fill_to(gws, LARGE)
    time.sleep(SETTLE_S)
    for gw in gws:
        record_rss(gw, "rss.100k")
    verify_fill(gws)
    step(f"push latency, 100k series ({PUSH_100K_ROUNDS} rounds x 3 s or more)")
    for gw in everyone:
        # A slow gateway gets a longer run so that each round completes a few requests.
        elapsed = timed_push(gw)
        gw.results["push@100k.min_s"] = min(20, max(3, int(elapsed * 10) + 1))
    latency_workload(everyone, "push@100k", 3, push_env(), rounds=PUSH_100K_ROUNDS)

    step("scrape latency at 100k, plain and gzip (3 rounds x 3 s or more)")
    probe_get(gws, "scrape.plain", "/metrics")
    probe_get(gws, "scrape.gzip", "/metrics", {"Accept-Encoding": "gzip"})
    latency_workload(gws, "scrape.plain", 3, {})
    latency_workload(gws, "scrape.gzip", 3, {}, headers=("Accept-Encoding: gzip",))
    step("scrape throughput at 100k (4 connections, 2 rounds x 5 s each)")
    throughput_workload(gws, "scrape.plain.rps", 5, 2, 4, {})
    throughput_workload(gws, "scrape.gzip.rps", 5, 2, 4, {}, headers=("Accept-Encoding: gzip",))
    step("/api/v1/metrics latency at 100k (3 rounds x 3 s or more)")
    probe_get(gws, "api", "/api/v1/metrics")
    latency_workload(gws, "api", 3, {"BENCH_PATH": "/api/v1/metrics"})
    for gw in gws:
        record_rss(gw, "rss.scraped")
        gw.results["rss.hwm"] = rss_kb(gw.pid, "VmHWM")

    step("snapshot (shutdown) and restart")
    for gw in everyone:
        if gw.persist_file:
            snapshot_and_restart(gw)


def record_rss(gw, key):
    """VmRSS now, and the growth over idle per stored series."""
    rss = rss_kb(gw.pid)
    gw.results[key] = rss
    series = gw.results[f"series@{LARGE}"]
    gw.results[key + ".per_series"] = (rss - gw.results["rss.idle"]) * 1024 / max(1, series)


def timed_push(gw):
    """Seconds of one push of the timed group (sizes the wrk runs of slow gateways)."""
    client = KeepAliveClient(gw.port)
    try:
        request = put_request(gw.port, TIMED_PATH, gauge_body("bench_series", TIMED_SERIES))
        _, elapsed = client.roundtrip(request)
    finally:
        client.close()
    return elapsed


STEP_START = [time.monotonic()]


def step(text):
    print(f"== [{time.monotonic() - STEP_START[0]:5.0f} s] {text}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", action="append", required=True, metavar="NAME=BIN",
                        help="a pushgate binary to measure; the first is judged")
    parser.add_argument("--upstream", metavar="BIN", help="upstream's prometheus-pushgateway")
    return parser.parse_args()


def main():
    args = parse_args()
    gwlib.exit_on_sigterm()
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))
    print(machine())
    print(f"wrk: {subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.splitlines()[0]}")
    with tempfile.TemporaryDirectory(prefix="pushgate-bench.") as tmpdir:
        gws = []
        for spec in args.gateway:
            name, _, binary = spec.partition("=")
            gws.append(Gw(name, binary, tmpdir))
        upstream = Gw("upstream", args.upstream, tmpdir) if args.upstream else None
        if upstream:
            gws.append(upstream)
        twin = Gw(f"{gws[0].name}-empty", gws[0].binary, tmpdir)
        try:
            run(gws, twin, tmpdir)
        except (BenchError, RuntimeError, OSError, socket.timeout, http.client.HTTPException) as err:
            print(f"error: {err}")
            return 2
        finally:
            for gw in gws + [twin]:
                gw.stop()
    print()
    print_table(gws, upstream, twin)
    print()
    print(f"issue 8 targets ({gws[0].name} vs upstream):")
    results = verdicts(gws[0], upstream, twin)
    for target, verdict, measured in results:
        print(f"  {verdict:<5s} {target:<55s} {measured}")
    return 1 if any(v == "FAIL" for _, v, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
