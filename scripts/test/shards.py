#!/usr/bin/env python3
"""Sharded pushgates behind HAProxy, end to end (README, "Scaling out").

    scripts/test/shards.py [--pushgate BINARY]

1. keys: deploy/haproxy/pushgate.lua, loaded by HAProxy, computes the
   routing key of a table of push paths (valid and invalid spellings); each
   path is also pushed to the pushgate binary, whose stored labels (read
   back from /api/v1/metrics) must give the same key; paths pushgate
   refuses must still route (the key is the raw path).
2. shards: deploy/haproxy/haproxy.cfg (ports and paths rewritten) in front
   of three pushgates, Prometheus scraping the shards (file-SD,
   honor_labels): 300 groups pushed in mixed spellings land on exactly one
   shard each; a DELETE in another spelling removes a group; Prometheus
   returns exactly the pushed series; a fourth shard moves <= 40% of the
   groups and `pushgate shards reconcile` leaves one copy each; a stopped
   shard's groups are pushed to the others at once, and after it returns
   reconcile keeps the newest copy.

Loopback only; every wait is bounded; every child is stopped on exit.
Standard library only. Prints one line per check and the figures measured.
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from checks import Checks  # noqa: E402
import gwlib  # noqa: E402

REPO = gwlib.REPO_ROOT
LUA = os.path.join(REPO, "deploy", "haproxy", "pushgate.lua")
HAPROXY_CFG = os.path.join(REPO, "deploy", "haproxy", "haproxy.cfg")


# ---------------------------------------------------------------------------
# Processes.

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process (HAProxy) with its output in a log file; stopped on exit.

    Proc.all also holds the gateways of gateway(), so that every child is stopped."""

    all = []

    def __init__(self, name, argv, tmp):
        self.name = name
        self.argv = argv
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.proc = None
        Proc.all.append(self)

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=gwlib._die_with_parent)
        log.close()
        return self

    def tail(self, n=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    @classmethod
    def stop_all(cls):
        for p in reversed(cls.all):
            p.stop()


def gateway(binary, name, flags=(), port=0, deadline=gwlib.STARTUP_DEADLINE_S):
    """A pushgate (or Prometheus) on 127.0.0.1, started by scripts/lib/gwlib.py; it is
    stopped with the other children, and its log tail printed when the run fails."""
    gw = gwlib.Gateway(binary, name, flags, port=port, deadline=deadline)
    gw.name = name
    Proc.all.append(gw)
    gw.start()
    gw.base = gw.base_url
    return gw


def pushgate(binary, name, port=0, flags=()):
    return gateway(binary, name, flags, port)


# ---------------------------------------------------------------------------
# HTTP.

def request(port, method, path, body=b"", timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True, skip_host=False)
        if method in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def groups_of(port, prefix=""):
    """{key: (labels dict, push_time, value of shard_test_value)} of one pushgate."""
    status, body = request(port, "GET", prefix + "/api/v1/metrics")
    if status != 200:
        raise RuntimeError(f"GET /api/v1/metrics on :{port} answered {status}")
    out = {}
    for g in json.loads(body)["data"]:
        labels = g["labels"]
        push_time = float(g["push_time_seconds"]["metrics"][0]["value"])
        fam = g.get("shard_test_value")
        value = float(fam["metrics"][0]["value"]) if fam else None
        out[key_of(labels)] = (labels, push_time, value)
    return out


def key_of(labels):
    """Upstream's string form of a grouping key, as bytes: name 0xFF value, joined by 0xFF."""
    names = sorted(labels, key=lambda n: n.encode())
    return b"\xff".join(n.encode() + b"\xff" + labels[n].encode() for n in names)


def b64(s, pad=True):
    if s == "":
        return "="
    enc = base64.urlsafe_b64encode(s.encode()).decode()
    return enc if pad else enc.rstrip("=")


# ---------------------------------------------------------------------------
# 1. The Lua key against pushgate's own parser.

# (mode, path, expected labels or None if pushgate refuses it, divergent)
# mode: "legacy", "utf8" (--push.enable-utf8-names), "prefix" (--web.route-prefix=/pg).
# divergent: the meaning differs between decoding the whole path and decoding
# each segment after splitting (%2F inside a segment); the Lua splits first.
KEY_TABLE = [
    ("legacy", "/metrics/job/j", {"job": "j"}, False),
    ("legacy", "/metrics/job/j/", {"job": "j"}, False),
    ("legacy", "/metrics/job/j/instance/i/zone/a", {"job": "j", "instance": "i", "zone": "a"}, False),
    ("legacy", "/metrics/job/j/zone/a/instance/i", {"job": "j", "instance": "i", "zone": "a"}, False),
    ("legacy", "/metrics/job@base64/ag==/instance@base64/aQ", {"job": "j", "instance": "i"}, False),
    ("legacy", "/metrics/job@base64/ag/instance@base64/aQ==", {"job": "j", "instance": "i"}, False),
    ("legacy", "/metrics/job@base64/ag===/instance@base64/aQ=", {"job": "j", "instance": "i"}, False),
    ("legacy", "/metrics/job/%6A/%69nstance/%69", {"job": "j", "instance": "i"}, False),
    ("legacy", "/%6Detrics/%6Aob/j/instance/i", {"job": "j", "instance": "i"}, False),
    ("legacy", "/metrics/job%40base64/ag/instance%40base64/aQ", {"job": "j", "instance": "i"}, False),
    ("legacy", "/metrics/job/j/instance@base64/=", {"job": "j", "instance": ""}, False),
    ("legacy", "/metrics/job/j/instance/", {"job": "j", "instance": ""}, False),
    ("legacy", "/metrics/job/j/a/1/a/2", {"job": "j", "a": "2"}, False),
    ("legacy", "/metrics/job/j/a/1/a@base64/Mw", {"job": "j", "a": "3"}, False),
    ("legacy", "/metrics/job/j/job/other", {"job": "j"}, False),
    ("legacy", "/metrics/job/j/job@base64/b3RoZXI", {"job": "j"}, False),
    ("legacy", "/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA", {"job": "a/b", "path": "/var/tmp"}, False),
    ("legacy", "/metrics/job/j%20k/v/%C3%A9%3F%23", {"job": "j k", "v": "é?#"}, False),
    ("legacy", "/metrics/job/j/v/a+b", {"job": "j", "v": "a+b"}, False),
    ("legacy", "/metrics/job/j/B/1/a/2/Z/3", {"job": "j", "B": "1", "a": "2", "Z": "3"}, False),
    ("legacy", "/metrics/job/j?x=1", {"job": "j"}, False),
    ("legacy", "/metrics/job/j/v@base64/4pyT", {"job": "j", "v": "\u2713"}, False),
    ("legacy", "/metrics/job/j/v@base64/_-8", None, False),
    # Meaning differs by decoding rule: a %2F inside one segment.
    ("legacy", "/metrics/job/j/v/a%2Fb", {"job": "j", "v": "a/b"}, True),
    ("legacy", "/metrics/job/a%2Fb", {"job": "a/b"}, True),
    ("legacy", "/metrics/job/j/a%2Fb/c", None, True),
    # Refused by pushgate: must still route, and get pushgate's 4xx.
    ("legacy", "/metrics/job/j/a", None, False),
    ("legacy", "/metrics/job/j/a/b/c", None, False),
    ("legacy", "/metrics/job/j/a/b/", None, False),
    ("legacy", "/metrics/job@base64/a.b", None, False),
    ("legacy", "/metrics/job@base64/a", None, False),
    ("legacy", "/metrics/job@base64/=", None, False),
    ("legacy", "/metrics/job/j/v@base64/%%%", None, False),
    ("legacy", "/metrics/job/j/v/%zz", None, False),
    ("legacy", "/metrics/job/j/v/%4", None, False),
    ("legacy", "/metrics/job/j/__x/1", None, False),
    ("legacy", "/metrics/job/j/a-b/1", None, False),
    ("legacy", "/metrics/job/j/v/%FF", None, False),
    ("legacy", "/metrics/job/j/v@base64/_w", None, False),
    ("legacy", "/metrics/job/j/U__a_2e_b/1", {"job": "j", "U__a_2e_b": "1"}, False),
    ("utf8", "/metrics/job/j/U__a_2e_b/1", {"job": "j", "a.b": "1"}, False),
    ("utf8", "/metrics/job/j/a.b/1", {"job": "j", "a.b": "1"}, False),
    ("utf8", "/metrics/job/j/U__a_2e_b@base64/MQ", {"job": "j", "a.b": "1"}, False),
    ("utf8", "/metrics/job/j/U__job/x", {"job": "j"}, False),
    ("utf8", "/metrics/job/j/U__a__b/1", {"job": "j", "a_b": "1"}, False),
    ("utf8", "/metrics/job/j/U__a_zz_b/1", {"job": "j", "U__a_zz_b": "1"}, False),
    ("prefix", "/pg/metrics/job/j/instance/i", {"job": "j", "instance": "i"}, False),
    ("prefix", "/pg/metrics/job@base64/ag/instance@base64/aQ==", {"job": "j", "instance": "i"}, False),
    ("prefix", "/%70g/metrics/job/j", {"job": "j"}, False),
    ("prefix", "/pg/metrics/job/j/odd", None, False),
]

KEY_FRONTENDS = {"legacy": "lua.pushgate_key", "utf8": "lua.pushgate_key(/,utf8)",
                 "prefix": "lua.pushgate_key(/pg)"}
ROUTE_FETCH = {"legacy": "lua.pushgate_route", "utf8": "lua.pushgate_route", "prefix": "lua.pushgate_route(/pg)"}


def keytest_haproxy(tmp, ports):
    cfg = ["global", f"    lua-load {LUA}", "defaults", "    mode http",
           "    timeout connect 2s", "    timeout client 10s", "    timeout server 10s"]
    for mode, port in ports.items():
        cfg += [f"frontend key_{mode}", f"    bind 127.0.0.1:{port}",
                f'    http-request return status 200 content-type text/plain lf-string '
                f'"%[{KEY_FRONTENDS[mode]},hex] %[{ROUTE_FETCH[mode]}]"']
    path = os.path.join(tmp, "keytest.cfg")
    with open(path, "w") as f:
        f.write("\n".join(cfg) + "\n")
    return path


def lua_key(port, path):
    status, body = request(port, "GET", path)
    if status != 200:
        raise RuntimeError(f"key frontend answered {status} for {path}")
    hexkey, route = body.decode().split(" ")
    return bytes.fromhex(hexkey), route


def check_keys(c, binary, tmp):
    print("== 1. Lua routing key vs pushgate's URL parser", flush=True)
    gws = {
        "legacy": pushgate(binary, "key-legacy", flags=["--web.enable-admin-api"]),
        "utf8": pushgate(binary, "key-utf8", flags=["--web.enable-admin-api", "--push.enable-utf8-names"]),
        "prefix": pushgate(binary, "key-prefix", flags=["--web.enable-admin-api", "--web.route-prefix=/pg"]),
    }
    ports = {mode: free_port() for mode in gws}
    hp = Proc("haproxy-keys", ["haproxy", "-db", "-f", keytest_haproxy(tmp, ports)], tmp)
    hp.start()
    wait_port(ports["legacy"])
    divergent = []
    for mode, path, want, differs in KEY_TABLE:
        gw = gws[mode]
        prefix = "/pg" if mode == "prefix" else ""
        request(gw.port, "PUT", prefix + "/api/v1/admin/wipe")
        status, body = request(gw.port, "PUT", path, b"shard_test_value 1\n")
        stored = groups_of(gw.port, prefix)
        key, route = lua_key(ports[mode], path)
        # A path pushgate refuses routes somewhere: any key will do.
        want_key = key_of(want) if want is not None else None
        lua_ok = route == "push" and len(key) > 0 and (want_key is None or key == want_key)
        if status in (200, 202):
            got = key_of(stored and next(iter(stored.values()))[0] or {})
            agrees = len(stored) == 1 and got == key and want is not None
        else:
            got = f"{status} {body.decode(errors='replace').strip()}"
            agrees = 400 <= status < 500 and not stored and want is None
        name = f"{mode} {path}"
        if differs:
            divergent.append((path, agrees))
            c.check(f"Lua key (split, then decode) {name}", lua_ok, f"lua {key!r} want {want_key!r}")
            c.check(f"pushgate decodes per segment: {name}", agrees, got)
            continue
        c.check(f"Lua key {name}", lua_ok and agrees,
                f"lua {key!r} route {route}; table {want_key!r}; pushgate {got!r}")
    # Paths that are not pushes are not proxied.
    for path in ["/metrics", "/api/v1/metrics", "/-/ready", "/", "/metricsjob/x", "/metrics/jobs/x"]:
        _, route = lua_key(ports["legacy"], path)
        c.check(f"not a push path: {path}", route == "other", route)
    _, route = lua_key(ports["prefix"], "/metrics/job/j")
    c.check("prefix: a path outside the route prefix is not a push path", route == "other", route)
    hp.stop()
    for gw in gws.values():
        gw.stop()
    return divergent


def wait_port(port, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# ---------------------------------------------------------------------------
# 2. Shards behind HAProxy.

def haproxy_config(tmp, port, shards, name="haproxy.cfg"):
    """deploy/haproxy/haproxy.cfg with the listener, Lua path and servers replaced."""
    with open(HAPROXY_CFG) as f:
        text = f.read()
    text = text.replace("/etc/haproxy/pushgate.lua", LUA)
    if HASH_TYPE:
        text = text.replace("    hash-type consistent\n", f"    hash-type {HASH_TYPE}\n")
    text = re.sub(r"(?m)^    bind :9091$", f"    bind 127.0.0.1:{port}", text)
    text = re.sub(r"(?m)^    server .*\n", "", text)
    servers = "".join(f"    server shard{sid} 127.0.0.1:{p} id {sid}\n" for sid, p in shards)
    text = text.rstrip("\n") + "\n" + servers
    text = text.replace("    log stdout format raw local0 info\n", "")
    text = text.replace("global\n", f"global\n    stats socket {tmp}/haproxy.sock mode 600 level admin\n", 1)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


GROUPS = 300
# --hash-type: measure another hash-type line than the shipped one.
HASH_TYPE = None


def group_labels(i):
    labels = {"job": f"batch-{i % 7}", "instance": f"host-{i:03d}"}
    if i % 3 == 0:
        labels["zone"] = f"z/{i % 4}"  # needs @base64 or %2F
    if i % 10 == 0:
        labels["env"] = ""  # an empty value
    return labels


def spelling(labels, variant):
    """One of many push paths of the same group."""
    job = labels["job"]
    rest = [(n, v) for n, v in labels.items() if n != "job"]
    if variant % 2:
        rest.reverse()

    def seg(n, v, how):
        if "/" in v or v == "" or how == "b64":
            return f"{n}@base64/{b64(v, pad=(variant % 4 < 2))}"
        if how == "pct":
            return f"%{ord(n[0]):02X}{n[1:]}/" + "".join(f"%{b:02X}" for b in v.encode())
        return f"{n}/{v}"

    how = ["plain", "b64", "pct"][variant % 3]
    head = f"/metrics/job@base64/{b64(job, pad=variant % 2 == 0)}" if how == "b64" else \
        ("/metrics/job/" + "".join(f"%{b:02X}" for b in job.encode()) if how == "pct" else f"/metrics/job/{job}")
    return head + "".join("/" + seg(n, v, how) for n, v in rest)


class Pusher:
    """Pushes through HAProxy on one keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def send(self, method, path, body=b""):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request(method, path, body=body,
                                  headers={"Content-Length": str(len(body))} if method != "DELETE" else {})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        return None

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


def placement(shards):
    """{key: [(shard name, labels, push_time, value)]} over the running shards."""
    out = {}
    for name, gw in shards.items():
        for k, (labels, pt, value) in groups_of(gw.port).items():
            out.setdefault(k, []).append((name, labels, pt, value))
    return out


def shards_cli(binary, shards, *args):
    argv = [binary, "shards", *[f"--shard={gw.base}" for gw in shards.values()], *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def prom_query(port, promql):
    q = urllib.parse.urlencode({"query": promql})
    status, body = request(port, "GET", f"/api/v1/query?{q}")
    if status != 200:
        raise RuntimeError(f"Prometheus answered {status}: {body[:200]!r}")
    return json.loads(body)["data"]["result"]


def check_shards(c, binary, tmp):
    print("== 2. three pushgates behind HAProxy, scraped by Prometheus", flush=True)
    figures = {}
    flags = ["--web.enable-admin-api"]
    shards = {}
    for sid in (1, 2, 3):
        shards[sid] = pushgate(binary, f"shard{sid}", flags=[*flags, f"--persistence.file={tmp}/shard{sid}.db"])
    hport = free_port()
    cfg = haproxy_config(tmp, hport, [(sid, gw.port) for sid, gw in shards.items()])
    check = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True, timeout=30)
    c.check("deploy/haproxy/haproxy.cfg is valid (haproxy -c)", check.returncode == 0, check.stdout + check.stderr)
    hp = Proc("haproxy", ["haproxy", "-db", "-f", cfg], tmp).start()
    wait_port(hport)
    wait_all_up(tmp, 3)

    # Prometheus with file-SD, as deploy/prometheus/ shows.
    sd = os.path.join(tmp, "pushgate-shards.json")
    write_sd(sd, shards)
    prom_cfg = os.path.join(tmp, "prometheus.yml")
    with open(os.path.join(REPO, "deploy", "prometheus", "prometheus-shards.yml")) as f:
        text = f.read()
    text = text.replace("/etc/prometheus/pushgate-shards.json", sd)
    text = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", text)
    with open(prom_cfg, "w") as f:
        f.write(text)
    prom = gateway("prometheus", "prometheus", [f"--config.file={prom_cfg}", f"--storage.tsdb.path={tmp}/tsdb",
                                                "--log.level=info"], deadline=30)

    pusher = Pusher(hport)
    labels = {i: group_labels(i) for i in range(GROUPS)}
    statuses = []
    for variant in range(3):
        for i in range(GROUPS):
            path = spelling(labels[i], variant + i)
            statuses.append(pusher.send("PUT", path, f"shard_test_value {i}\n".encode())[0])
    c.check(f"{3 * GROUPS} pushes through HAProxy ({GROUPS} groups x 3 spellings) answered 200",
            statuses.count(200) == len(statuses), f"statuses {sorted(set(statuses))}")
    placed = placement(shards)
    want_keys = {key_of(l): i for i, l in labels.items()}
    spread = [k for k, h in placed.items() if len(h) > 1]
    c.check(f"every group on exactly one shard ({len(placed)} groups)",
            set(placed) == set(want_keys) and not spread,
            f"missing {len(set(want_keys) - set(placed))}, extra {len(set(placed) - set(want_keys))}, "
            f"on several shards {len(spread)}")
    per_shard = {sid: sum(1 for h in placed.values() if h[0][0] == sid) for sid in shards}
    figures["groups per shard (3 shards)"] = per_shard
    print(f"      groups per shard: {per_shard}")
    c.check("every shard holds some groups", all(per_shard.values()), per_shard)

    # A DELETE in yet another spelling.
    deleted = [i for i in range(0, GROUPS, 30)]
    for i in deleted:
        l = labels[i]
        rest = "".join(f"/{n}@base64/{b64(v, pad=False)}" for n, v in sorted(l.items(), reverse=True) if n != "job")
        path = f"/metrics/job@base64/{b64(l['job'])}{rest}"
        pusher.send("DELETE", path)
    placed = placement(shards)
    gone = [i for i in deleted if key_of(labels[i]) not in placed]
    c.check(f"DELETE through HAProxy (@base64, reversed, unpadded) removed {len(deleted)} groups",
            len(gone) == len(deleted), f"still present: {sorted(set(deleted) - set(gone))}")
    for i in deleted:
        pusher.send("PUT", spelling(labels[i], 0), f"shard_test_value {i}\n".encode())

    # Non-push paths are refused at the proxy; absurd Content-Length too.
    status, body = request(hport, "GET", "/metrics")
    c.check("HAProxy refuses scrapes (404, a pointer to the shards)", status == 404 and b"directly" in body,
            (status, body))
    status, _ = request(hport, "PUT", "/api/v1/admin/wipe")
    c.check("HAProxy refuses admin calls (404)", status == 404, status)
    status = raw_status(hport, b"PUT /metrics/job/big HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
    c.check("HAProxy refuses a declared Content-Length above 64 MiB (413)", status == 413, status)
    refused = [path for mode, path, want, differs in KEY_TABLE if mode == "legacy" and want is None and not differs]
    answers = []
    for path in refused:
        via = request(hport, "PUT", path, b"m 1\n")
        direct = request(shards[1].port, "PUT", path, b"m 1\n")
        answers.append((path, via, direct))
    wrong = [a for a in answers if a[1] != a[2] or not 400 <= a[1][0] < 500]
    c.check(f"{len(refused)} invalid push paths get pushgate's own 4xx and message through HAProxy",
            not wrong and len(placement(shards)) == GROUPS, wrong[:3])

    # Prometheus sees exactly the pushed series, once each.
    result = wait_prom(prom.port, "shard_test_value", GROUPS)
    series = {}
    dup = 0
    for r in result:
        m = {k: v for k, v in r["metric"].items() if k != "__name__"}
        k = key_of({n: v for n, v in m.items()})
        dup += k in series
        series[k] = float(r["value"][1])
    want_series = {key_of({n: v for n, v in l.items() if v != ""}): float(i) for i, l in labels.items()}
    c.check(f"Prometheus returns exactly the {GROUPS} pushed series, once each, with their values",
            series == want_series and dup == 0,
            f"got {len(series)} ({dup} duplicates); missing {len(set(want_series) - set(series))}, "
            f"unexpected {len(set(series) - set(want_series))}")
    extra = [r["metric"] for r in result if "exported_job" in r["metric"] or "exported_instance" in r["metric"]]
    c.check("honor_labels: no exported_job/exported_instance labels", not extra, extra[:3])

    # A fourth shard.
    before = {k: h[0][0] for k, h in placement(shards).items()}
    shards[4] = pushgate(binary, "shard4", flags=[*flags, f"--persistence.file={tmp}/shard4.db"])
    cfg4 = haproxy_config(tmp, hport, [(sid, gw.port) for sid, gw in shards.items()], name="haproxy4.cfg")
    hp.stop()
    hp = Proc("haproxy4", ["haproxy", "-db", "-f", cfg4], tmp).start()
    wait_port(hport)
    wait_all_up(tmp, 4)
    write_sd(sd, shards)
    pusher.close()
    for i in range(GROUPS):
        pusher.send("PUT", spelling(labels[i], i + 1), f"shard_test_value {i + 1000}\n".encode())
    placed = placement(shards)
    newest = {k: max(h, key=lambda x: x[2])[0] for k, h in placed.items()}
    moved = [k for k in before if newest.get(k) != before[k]]
    frac = len(moved) / GROUPS
    figures["moved 3 -> 4 shards"] = f"{len(moved)}/{GROUPS} = {frac:.1%}"
    print(f"      groups moved by adding a 4th shard: {len(moved)} of {GROUPS} ({frac:.1%})")
    c.check("adding a 4th shard moves at most 40% of the groups", frac <= 0.40, f"{frac:.1%}")
    c.check("every moved group moved to the new shard", all(newest[k] == 4 for k in moved),
            {newest[k] for k in moved})
    rc, out, err = shards_cli(binary, shards, "reconcile")
    after_dry = placement(shards)
    c.check("reconcile dry run lists the stale copies and changes nothing",
            rc == 0 and f"{len(moved)} stale copies would be deleted" in out and after_dry == placed,
            out[-300:] + err)
    rc, out, err = shards_cli(binary, shards, "reconcile", "--apply")
    placed = placement(shards)
    c.check("reconcile --apply leaves every group on exactly one shard, the newest copy",
            rc == 0 and all(len(h) == 1 for h in placed.values()) and len(placed) == GROUPS
            and all(h[0][0] == newest[k] for k, h in placed.items()),
            out[-400:] + err)
    rc, out, _ = shards_cli(binary, shards, "ls")
    c.check("pushgate shards ls shows every group once", rc == 0 and
            f"{GROUPS} groups, {GROUPS} copies on 4 shards; 0 groups on more than one shard" in out, out[-300:])

    # Failover: stop shard 2.
    victim = 2
    owned = [k for k, h in placed.items() if h[0][0] == victim]
    by_key = {key_of(l): i for i, l in labels.items()}
    vport = shards[victim].port
    shards[victim].stop()
    stopped = time.monotonic()
    first_ok = None
    failures = 0
    for k in owned:
        i = by_key[k]
        status = pusher.send("PUT", spelling(labels[i], i + 2), f"shard_test_value {i + 2000}\n".encode())[0]
        if status == 200 and first_ok is None:
            first_ok = time.monotonic() - stopped
        failures += status != 200
    all_done = time.monotonic() - stopped
    figures["failover"] = (f"first push to a stopped shard's group succeeded {first_ok:.3f} s after the stop; "
                           f"{len(owned)} pushes, {failures} failed, all done in {all_done:.2f} s")
    print(f"      {figures['failover']}")
    c.check(f"shard {victim} stopped: pushes for its {len(owned)} groups succeed on the others at once",
            failures == 0 and first_ok is not None and all_done < 2.0, figures["failover"])
    down = wait_state(tmp, victim, "DOWN", 10)
    figures["marked down after"] = f"{time.monotonic() - stopped:.2f} s"
    c.check("HAProxy marks the stopped shard down within the health-check interval (inter 1s, fall 2)",
            down and time.monotonic() - stopped < 4.0, figures["marked down after"])
    alive = {s: gw for s, gw in shards.items() if s != victim}
    p = placement(alive)
    c.check("its groups now live on the other shards", all(k in p for k in owned),
            f"{sum(k not in p for k in owned)} missing")

    # It returns (same port, its persisted stale copies).
    shards[victim] = pushgate(binary, f"shard{victim}-again", port=vport,
                              flags=[*flags, f"--persistence.file={tmp}/shard{victim}.db"])
    c.check("the shard returns with its old copies", wait_state(tmp, victim, "UP", 10))
    placed = placement(shards)
    spread = [k for k, h in placed.items() if len(h) > 1]
    c.check("after its return its groups are on two shards", len(spread) == len(owned), len(spread))
    rc, out, err = shards_cli(binary, shards, "reconcile", "--apply")
    placed = placement(shards)
    newest_ok = all(h[0][3] == by_key[k] + 2000 for k, h in placed.items() if k in set(owned))
    c.check("reconcile --apply again: one copy of each group, the newest (pushed during the failover)",
            rc == 0 and len(placed) == GROUPS and all(len(h) == 1 for h in placed.values()) and newest_ok,
            out[-400:] + err)

    # Bulk delete fanned out to every shard.
    batch = {k for k, h in placed.items() if h[0][1]["job"] == "batch-3"}
    rc, out, err = shards_cli(binary, shards, "delete", '{job="batch-3"}', "--apply")
    placed = placement(shards)
    c.check(f"pushgate shards delete --apply removes job batch-3 ({len(batch)} groups) from every shard",
            rc == 0 and f"{len(batch)} groups deleted on 4 shards" in out and not batch & set(placed)
            and len(placed) == GROUPS - len(batch), out[-300:] + err)

    # Unreachable shard: clear error, nothing changed.
    before = placement({s: gw for s, gw in shards.items() if s != 3})
    shards[3].stop()
    rc, out, err = shards_cli(binary, shards, "wipe", "--apply")
    remaining = placement({s: gw for s, gw in shards.items() if s != 3})
    c.check("wipe with one shard unreachable: exit 1, names it, changes nothing",
            rc == 1 and f"shard {shards[3].base}: unreachable" in err and "nothing was changed" in err
            and remaining == before, (rc, err))
    alive = {s: gw for s, gw in shards.items() if s != 3}
    rc, out, err = shards_cli(binary, alive, "wipe", "--apply")
    c.check("wipe --apply on the reachable shards empties them", rc == 0 and not placement(alive), out + err)
    rc, out, err = shards_cli(binary, {1: shards[1]}, "--shard=https://x:1", "ls")
    c.check("a bad shard URL: exit 2 before any request", rc == 2 and "bad shard URL" in err, (rc, err))
    pusher.close()
    hp.stop()
    prom.stop()
    return figures


def raw_status(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        head = s.recv(4096).decode(errors="replace")
    m = re.match(r"HTTP/1\.[01] (\d+)", head)
    return int(m.group(1)) if m else head


def write_sd(path, shards):
    tmp_path = path + ".tmp"
    with open(tmp_path, "w") as f:
        json.dump([{"targets": [f"127.0.0.1:{gw.port}" for gw in shards.values()]}], f)
    os.replace(tmp_path, path)


def haproxy_states(tmp):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(f"{tmp}/haproxy.sock")
        s.sendall(b"show servers state pushgate_shards\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    states = {}
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) > 6 and parts[0].isdigit():
            # be_id be_name srv_id srv_name srv_addr srv_op_state ...; 2 = running
            states[int(parts[2])] = "UP" if parts[5] == "2" else "DOWN"
    return states


def wait_state(tmp, sid, state, deadline):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if haproxy_states(tmp).get(sid) == state:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def wait_all_up(tmp, n, deadline=15):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            st = haproxy_states(tmp)
            if len(st) == n and all(v == "UP" for v in st.values()):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"HAProxy did not report {n} shards up")


def wait_prom(port, promql, want, deadline=30):
    end = time.monotonic() + deadline
    result = []
    while time.monotonic() < end:
        result = prom_query(port, promql)
        if len(result) >= want:
            time.sleep(1.5)  # one more scrape of every shard
            return prom_query(port, promql)
        time.sleep(0.25)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pushgate", default=gwlib.default_pushgate())
    ap.add_argument("--only", choices=["keys", "shards"])
    ap.add_argument("--hash-type", help="replace the shipped 'hash-type consistent' (measuring only)")
    args = ap.parse_args()
    global HASH_TYPE
    HASH_TYPE = args.hash_type
    gwlib.exit_on_sigterm()
    for tool in ("haproxy", "prometheus"):
        if not shutil.which(tool):
            print(f"{tool} not installed (scripts/install-test-peers.sh installs it)", file=sys.stderr)
            return 1
    if not args.pushgate:
        print("no pushgate binary: run cargo build first", file=sys.stderr)
        return 1
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="pushgate-shards-")
    try:
        divergent = check_keys(c, args.pushgate, tmp) if args.only in (None, "keys") else []
        figures = check_shards(c, args.pushgate, tmp) if args.only in (None, "shards") else {}
    except Exception:
        Proc.stop_all()
        for p in Proc.all:
            if p.proc is not None:
                print(f"--- {p.name} log tail:\n{p.tail()}", file=sys.stderr)
        raise
    finally:
        Proc.stop_all()
    if divergent:
        print("paths whose meaning depends on the decoding rule (Lua: split, then decode):")
        for path, agrees in divergent:
            print(f"  {path}: pushgate {'agrees' if agrees else 'does not agree yet'}")
    for name, value in figures.items():
        print(f"figure: {name}: {value}")
    code = c.summary()
    if code == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"logs kept in {tmp}")
    return code


if __name__ == "__main__":
    sys.exit(main())
