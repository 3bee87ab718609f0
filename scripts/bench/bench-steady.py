#!/usr/bin/env python3
"""Steady-state benchmark: reads right after a push, and memory under churn (issue 14).

A gateway in service is scraped while pushes keep arriving, so almost every read sees
a store that changed since the one before. This phase starts fresh gateways (the
judged pushgate binary, optionally the glibc one, upstream, and an empty twin of the
judged binary), fills each with GROUPS groups of SERIES series (one family), then:

  1. Reads right after a push, interleaved per round across gateways: one PUT of a
     random group (timed: push latency at this store size), then one GET of
     /metrics (plain, gzip, protobuf) or /api/v1/metrics on a keep-alive connection,
     timed, with the server's CPU time (utime+stime from /proc/PID/stat) around it.
  2. A churn run of CHURN_S seconds on every gateway at once: PUTs of random groups
     at PUSH_RATE/s and one plain scrape per second. VmHWM is reset
     (/proc/PID/clear_refs) at its start, so the peak is the peak during the run;
     VmRSS before and after it.
  3. The web UI page (GET /) right after a push, as in 1; after the churn run, because
     a page load keeps each group's family views for 90 s (RSS is measured around 2).
  Push latency is measured between 1 and 2: PUTs alternating push by push with the
     empty twin.

Upstream runs with --push.disable-consistency-check: with the check, every upstream
push re-gathers the whole store, and filling 10,000 groups takes ~15 minutes on 2
cores; scrapes gather the whole store either way. Used by bench.py (after its own
phases) and alone: scripts/bench/bench-steady.py --gateway NAME=BIN [...] [--upstream BIN].
"""

import argparse
import http.client
import os
import random
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import gwlib  # noqa: E402
from bench_push import KeepAliveClient, parallel_puts, put_request  # noqa: E402
from benchfmt import fmt_kb, fmt_mib, fmt_ms, fmt_whole_bytes, ratio_text  # noqa: E402

GROUPS = int(os.environ.get("BENCH_STEADY_GROUPS", "10000"))
SERIES = 10
FILL_THREADS = 4
FILL_CAP_S = 120
ROUNDS = {"pushgate": 25, "upstream": 8}
ROUND_CAP_S = 60
CHURN_S = int(os.environ.get("BENCH_STEADY_CHURN_S", "60"))
PUSH_RATE = 20
HTTP_TIMEOUT_S = 120
PROTOBUF = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
            "encoding=delimited")
READS = [
    ("plain", "/metrics", {}),
    ("gzip", "/metrics", {"Accept-Encoding": "gzip"}),
    ("protobuf", "/metrics", {"Accept": PROTOBUF, "Accept-Encoding": "gzip"}),
    ("api", "/api/v1/metrics", {}),
]
# Read after the churn run, so that the family views a UI page load keeps (dropped
# 90 s after the last load) do not count in the RSS measured around it.
UI_READS = [("ui", "/", {"Accept": "text/html"})]

# Issue 14 targets.
SCRAPE_SPEEDUP = 20
PROTOBUF_SPEEDUP = 10
CPU_SPEEDUP = 20
API_SPEEDUP = 10
PEAK_RATIO = 1.5
RSS_SERIES_FRACTION = 1 / 4
GLIBC_RATIO = 2
PUSH_SELF_RATIO = 1.5


class Gw:
    def __init__(self, name, binary, extra_flags=()):
        self.name = name
        self.binary = binary
        self.upstream = gwlib.is_upstream(binary)
        flags = list(extra_flags)
        if self.upstream:
            flags.append("--push.disable-consistency-check")
        self.proc = gwlib.Gateway(binary, name, flags)
        self.results = {}
        self.notes = []
        self.rng = random.Random(name)

    @property
    def port(self):
        return self.proc.port

    @property
    def pid(self):
        return self.proc.proc.pid


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """CPU time of the process's threads in seconds, at nanosecond resolution (the
    first field of /proc/PID/task/TID/schedstat; utime/stime count 10 ms ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def body(value):
    lines = ["# HELP bench_steady A benchmark gauge.", "# TYPE bench_steady gauge"]
    lines += [f'bench_steady{{idx="{i}",kind="steady"}} {value + i}.5' for i in range(SERIES)]
    return ("\n".join(lines) + "\n").encode()


def group_path(i):
    return f"/metrics/job/steady/instance/g{i}"


def count_groups(port):
    data = Reader(port).get("/metrics", {})
    return sum(1 for line in data.split(b"\n") if line.startswith(b"push_time_seconds{"))


def fill(gw):
    """PUTs every group; counts them in a scrape (upstream without the consistency check
    answers 202 and applies the write later, so the answers prove nothing there)."""
    paths = [group_path(i) for i in range(GROUPS)]
    done, _, errors, elapsed = parallel_puts(gw.port, paths, body(1), FILL_THREADS, FILL_CAP_S)
    deadline = time.monotonic() + 30
    groups = count_groups(gw.port)
    while groups < done and time.monotonic() < deadline:
        time.sleep(0.5)
        groups = count_groups(gw.port)
    if errors or groups < GROUPS:
        gw.notes.append(f"fill: {groups} of {GROUPS} groups stored in {elapsed:.0f} s "
                        f"({len(errors)} client errors)")
    gw.results["groups"] = groups
    gw.results["fill_s"] = elapsed


class Reader:
    """A keep-alive GET client that reads the whole body."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)

    def get(self, path, headers):
        self.conn.putrequest("GET", path, skip_accept_encoding=True)
        for name, value in headers.items():
            self.conn.putheader(name, value)
        self.conn.endheaders()
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path} answered {resp.status}")
        return data

    def close(self):
        self.conn.close()


def after_push_round(gw, pusher, reader, kind, path, headers):
    """One PUT of a random group, then one timed GET: (push s, read s, server CPU s, bytes)."""
    request = put_request(gw.port, group_path(gw.rng.randrange(GROUPS)),
                          body(gw.rng.randrange(1000)))
    _, push_s = pusher.roundtrip(request)
    cpu0 = cpu_s(gw.pid)
    started = time.perf_counter()
    data = reader.get(path, headers)
    elapsed = time.perf_counter() - started
    return push_s, elapsed, cpu_s(gw.pid) - cpu0, len(data)


def reads_after_push(gws, reads=READS):
    """Interleaved rounds: each gateway in turn gets push+read for each read kind."""
    clients = {gw.name: (KeepAliveClient(gw.port), Reader(gw.port)) for gw in gws}
    samples = {(gw.name, kind): [] for gw in gws for kind, _, _ in reads}
    pushes = {gw.name: [] for gw in gws}
    try:
        for kind, path, headers in reads:
            started = {gw.name: time.monotonic() for gw in gws}
            for r in range(max(ROUNDS.values())):
                order = gws if r % 2 == 0 else list(reversed(gws))
                for gw in order:
                    rounds = ROUNDS["upstream" if gw.upstream else "pushgate"]
                    if r >= rounds or time.monotonic() - started[gw.name] > ROUND_CAP_S:
                        continue
                    pusher, reader = clients[gw.name]
                    # The first read of a kind renders what nothing has rendered yet.
                    if r == 0:
                        reader.get(path, headers)
                    push_s, read_s, cpu, size = after_push_round(gw, pusher, reader, kind,
                                                                 path, headers)
                    pushes[gw.name].append(push_s)
                    samples[(gw.name, kind)].append((read_s, cpu, size))
    finally:
        for pusher, reader in clients.values():
            pusher.close()
            reader.close()
    for gw in gws:
        for kind, _, _ in reads:
            got = samples[(gw.name, kind)]
            if not got:
                continue
            gw.results[f"{kind}.s"] = statistics.median(s for s, _, _ in got)
            gw.results[f"{kind}.cpu"] = statistics.median(c for _, c, _ in got)
            gw.results[f"{kind}.bytes"] = got[-1][2]
            gw.results[f"{kind}.n"] = len(got)
        if pushes[gw.name] and reads is READS:
            gw.results["push.after_read.s"] = statistics.median(pushes[gw.name])


def push_latency(gws, twin, count=900):
    """PUTs of random groups, one keep-alive connection per gateway, alternating
    push by push with the empty twin (which PUTs its 10 groups, and goes first every
    other push), so that whatever else the machine does falls on both alike: the
    median of each gateway's pushes. Upstream is left out: without its consistency
    check it answers 202 before applying, which is not comparable."""
    gws = [gw for gw in gws if not gw.upstream] + [twin]
    clients = {gw.name: KeepAliveClient(gw.port) for gw in gws}
    times = {gw.name: [] for gw in gws}
    try:
        for i in range(count):
            for gw in gws if i % 2 == 0 else list(reversed(gws)):
                groups = GROUPS if gw is not twin else 10
                request = put_request(gw.port, group_path(gw.rng.randrange(groups)), body(i))
                times[gw.name].append(clients[gw.name].roundtrip(request)[1])
    finally:
        for client in clients.values():
            client.close()
    for gw in gws:
        gw.results["push.s"] = statistics.median(times[gw.name])


def churn(gw, stop_at, errors):
    """PUSH_RATE PUTs/s to random groups and one plain scrape per second until stop_at."""
    pusher, reader = KeepAliveClient(gw.port), Reader(gw.port)
    rng = random.Random(gw.name + "churn")
    try:
        tick, n = time.monotonic(), 0
        while time.monotonic() < stop_at:
            for _ in range(PUSH_RATE):
                pusher.roundtrip(put_request(gw.port, group_path(rng.randrange(GROUPS)),
                                             body(rng.randrange(1000))))
                n += 1
            reader.get("/metrics", {})
            tick += 1
            time.sleep(max(0.0, tick - time.monotonic()))
        gw.results["churn.pushes"] = n
    except (OSError, RuntimeError, http.client.HTTPException) as err:
        errors.append(f"{gw.name}: {err!r}")
    finally:
        pusher.close()
        reader.close()


def churn_run(gws):
    for gw in gws:
        gw.results["rss.before"] = status_kb(gw.pid, "VmRSS")
        with open(f"/proc/{gw.pid}/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
    stop_at = time.monotonic() + CHURN_S
    errors = []
    threads = [threading.Thread(target=churn, args=(gw, stop_at, errors)) for gw in gws]
    for t in threads:
        t.start()
    for t in threads:
        t.join(CHURN_S + HTTP_TIMEOUT_S)
    for err in errors:
        print(f"   churn: {err}")
    time.sleep(1.0)
    for gw in gws:
        gw.results["rss.peak"] = status_kb(gw.pid, "VmHWM")
        gw.results["rss.after"] = status_kb(gw.pid, "VmRSS")
        series = gw.results.get("groups", 0) * (SERIES + 2)
        gw.results["rss.per_series"] = ((gw.results["rss.after"] - gw.results["rss.idle"]) * 1024
                                        / max(1, series))


ROWS = [
    ("push p50, alternating with the empty twin", "push.s", fmt_ms, True),
    ("push p50, right after a read", "push.after_read.s", fmt_ms, True),
    ("scrape after a push, plain, p50", "plain.s", fmt_ms, True),
    ("scrape after a push, gzip, p50", "gzip.s", fmt_ms, True),
    ("scrape after a push, protobuf+gzip, p50", "protobuf.s", fmt_ms, True),
    ("/api/v1/metrics after a push, p50", "api.s", fmt_ms, True),
    ("server CPU per scrape, plain", "plain.cpu", fmt_ms, True),
    ("server CPU per scrape, gzip", "gzip.cpu", fmt_ms, True),
    ("server CPU per scrape, protobuf+gzip", "protobuf.cpu", fmt_ms, True),
    ("server CPU per /api/v1/metrics", "api.cpu", fmt_ms, True),
    ("web UI page after a push, p50", "ui.s", fmt_ms, True),
    ("server CPU per web UI page", "ui.cpu", fmt_ms, True),
    ("body plain", "plain.bytes", fmt_mib, True),
    ("body gzip", "gzip.bytes", fmt_mib, True),
    ("body protobuf+gzip", "protobuf.bytes", fmt_mib, True),
    ("body web UI page", "ui.bytes", fmt_mib, True),
    ("RSS before the churn run", "rss.before", fmt_kb, True),
    ("peak RSS (VmHWM) during the churn run", "rss.peak", fmt_kb, True),
    ("RSS after the churn run", "rss.after", fmt_kb, True),
    ("RSS per series after the churn run", "rss.per_series", fmt_whole_bytes, True),
]


def report(gws, twin, upstream):
    judged = gws[0]
    cols = gws + [twin]
    width = max(16, *(len(g.name) + 2 for g in cols))
    header = f"{'steady state, 10k groups x 10 series':<44s}" + "".join(
        f"{g.name:>{width}s}" for g in cols)
    if upstream:
        header += f"  {'vs upstream':>14s}"
    print(header)
    print("-" * len(header))
    for label, key, fmt, _ in ROWS:
        row = f"{label:<44s}" + "".join(f"{fmt(g.results.get(key)):>{width}s}" for g in cols)
        if upstream:
            row += f"  {ratio_text(judged.results.get(key), upstream.results.get(key)):>14s}"
        print(row)
    print()
    print(f"each group: one family of {SERIES} series + 2 push-time series; reads on one "
          f"keep-alive connection, each right after a PUT of a random group; churn: "
          f"{PUSH_RATE} PUTs/s + 1 scrape/s for {CHURN_S} s on all gateways at once.")
    for g in cols:
        counts = ", ".join(f"{k} {g.results.get(k + '.n', 0)}" for k, _, _ in READS + UI_READS)
        print(f"  {g.name}: {g.results.get('groups', 0):,} groups filled in "
              f"{g.results.get('fill_s', 0):.1f} s; reads {counts}; churn pushes "
              f"{g.results.get('churn.pushes', 0)}")
        for note in g.notes:
            print(f"  {g.name}: NOTE {note}")
    return verdicts(gws, twin, upstream)


def verdicts(gws, twin, upstream):
    r = gws[0].results
    u = upstream.results if upstream else {}
    out = []

    def check(target, ok, measured):
        out.append((target, "n/a" if ok is None else ("PASS" if ok else "FAIL"), measured))

    def speedup(key, factor, what):
        target = f"{what} >= {factor}x upstream"
        if r.get(key) and u.get(key):
            x = u[key] / r[key]
            check(target, x >= factor, f"{x:.1f}x ({fmt_ms(r[key])} vs {fmt_ms(u[key])})")
        else:
            check(target, None, "no upstream")

    speedup("plain.s", SCRAPE_SPEEDUP, "scrape after a push, plain, p50")
    speedup("gzip.s", SCRAPE_SPEEDUP, "scrape after a push, gzip, p50")
    speedup("protobuf.s", PROTOBUF_SPEEDUP, "scrape after a push, protobuf, p50")
    speedup("plain.cpu", CPU_SPEEDUP, "server CPU per scrape (plain)")
    speedup("api.s", API_SPEEDUP, "/api/v1/metrics after a push, p50")
    if r.get("rss.peak") and r.get("rss.before"):
        x = r["rss.peak"] / r["rss.before"]
        check(f"peak RSS during churn <= {PEAK_RATIO}x RSS before", x <= PEAK_RATIO,
              f"{x:.2f}x ({fmt_kb(r['rss.peak'])} vs {fmt_kb(r['rss.before'])})")
    if r.get("rss.per_series") and u.get("rss.per_series"):
        x = r["rss.per_series"] / u["rss.per_series"]
        check("RSS per series after churn <= 1/4 of upstream's", x <= RSS_SERIES_FRACTION,
              f"{x:.2f} ({fmt_whole_bytes(r['rss.per_series'])} vs {fmt_whole_bytes(u['rss.per_series'])})")
    glibc = next((g for g in gws if "glibc" in g.name), None)
    if glibc and glibc.results.get("rss.after") and r.get("rss.after"):
        x = glibc.results["rss.after"] / r["rss.after"]
        check(f"glibc RSS after churn <= {GLIBC_RATIO}x musl's", x <= GLIBC_RATIO,
              f"{x:.2f}x ({fmt_kb(glibc.results['rss.after'])} vs {fmt_kb(r['rss.after'])})")
    if r.get("push.s") and twin.results.get("push.s"):
        x = r["push.s"] / twin.results["push.s"]
        check(f"push p50 at 10k groups <= {PUSH_SELF_RATIO}x own empty store", x <= PUSH_SELF_RATIO,
              f"{x:.2f}x ({fmt_ms(r['push.s'])} vs {fmt_ms(twin.results['push.s'])})")
    return out


def run(specs, upstream_bin):
    """specs: [(name, binary)], the first judged. Returns the verdicts."""
    gws = [Gw(name, binary) for name, binary in specs]
    upstream = Gw("upstream", upstream_bin) if upstream_bin else None
    if upstream:
        gws.append(upstream)
    twin = Gw(f"{gws[0].name}-empty", gws[0].binary)
    try:
        for gw in gws + [twin]:
            gw.proc.start()
        time.sleep(1.0)
        for gw in gws + [twin]:
            gw.results["rss.idle"] = status_kb(gw.pid, "VmRSS")
        for gw in gws:
            print(f"== steady: fill {gw.name} with {GROUPS:,} groups x {SERIES} series", flush=True)
            fill(gw)
        print("== steady: reads right after a push (interleaved)", flush=True)
        reads_after_push(gws)
        print("== steady: push latency at this size and on the empty twin", flush=True)
        push_latency(gws, twin)
        print(f"== steady: churn run, {CHURN_S} s, all gateways at once", flush=True)
        churn_run(gws)
        print("== steady: web UI page right after a push (interleaved)", flush=True)
        reads_after_push(gws, UI_READS)
    finally:
        for gw in gws + [twin]:
            gw.proc.stop()
    print()
    return report(gws, twin, upstream)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", action="append", required=True, metavar="NAME=BIN")
    parser.add_argument("--upstream", metavar="BIN")
    args = parser.parse_args()
    gwlib.exit_on_sigterm()
    specs = [tuple(s.split("=", 1)) for s in args.gateway]
    results = run(specs, args.upstream)
    print()
    print(f"issue 14 targets ({specs[0][0]}):")
    for target, verdict, measured in results:
        print(f"  {verdict:<5s} {target:<55s} {measured}")
    return 1 if any(v == "FAIL" for _, v, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
