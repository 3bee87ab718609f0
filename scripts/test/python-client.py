#!/usr/bin/env python3
"""Round trip with the real Python client library (PyPI prometheus_client).

Pushes a registry with a counter, gauge, summary and histogram through
push_to_gateway (grouping key: instance containing "/", plus a label with an empty
value), checks that the scrape shows exactly the expected series, adds a family with
pushadd_to_gateway (old families stay), replaces with push_to_gateway, checks that
a conflicting push raises in the client, and removes the group with
delete_from_gateway. Prints one line per check and "N passed, M failed".

Usage (normally through scripts/test/python-client.sh, which sets up the venv and starts
the gateway):
    target/py/bin/python scripts/test/python-client.py http://127.0.0.1:PORT
Exit status: 0 if every check passed, 1 otherwise.
"""

import http.client
import importlib.metadata
import json
import os
import re
import sys
import time
import urllib.parse

import prometheus_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from checks import LABEL_RE, MANAGED_GAUGES, Checks  # noqa: E402
from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, Summary,
                               delete_from_gateway, generate_latest, push_to_gateway,
                               pushadd_to_gateway)

JOB = "pyclient"
GROUPING_KEY = {"instance": "host/1:9100", "empty_label": ""}
GROUP_LABELS = {"job": JOB, **GROUPING_KEY}
DELETE_VISIBLE_DEADLINE_S = 3.0
SERIES_RE = re.compile(r'^([^{ ]+)(?:\{(.*)\})? (\S+)$')


def http_get(base_url, path):
    url = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def parse_series(exposition):
    """Sample lines as (name, frozenset of label pairs, float value).

    `le` and `quantile` values are compared as numbers, so the client's "100.0" and
    the gateway's "100" are the same bucket.
    """
    series = set()
    for line in exposition.splitlines():
        match = SERIES_RE.match(line)
        if not match or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        pairs = []
        for label, label_value in LABEL_RE.findall(labels or ""):
            if label in ("le", "quantile"):
                label_value = repr(float(label_value))
            pairs.append((label, label_value))
        series.add((name, frozenset(pairs), float(value)))
    return series


def expected_series(*registries):
    """What the gateway should serve for these registries pushed under GROUP_LABELS."""
    expected = set()
    for registry in registries:
        for name, pairs, value in parse_series(generate_latest(registry).decode()):
            labels = dict(pairs)
            labels.update(GROUP_LABELS)
            expected.add((name, frozenset(labels.items()), value))
    return expected


def group_series(base_url):
    """The scraped series of our group, without the two managed gauges."""
    status, body = http_get(base_url, "/metrics")
    if status != 200:
        raise RuntimeError(f"scrape answered {status}: {body[:200]}")
    ours = frozenset(GROUP_LABELS.items())
    # Series of our group carry all grouping labels, plus their own (queue, le, ...).
    return {s for s in parse_series(body) if ours <= s[1] and s[0] not in MANAGED_GAUGES}, body


def describe(got, want):
    def fmt(s):
        name, pairs, value = s
        return f"{name}{dict(sorted(pairs))} {value}"
    missing = sorted(fmt(s) for s in want - got)
    extra = sorted(fmt(s) for s in got - want)
    return "\n".join([f"missing: {m}" for m in missing] + [f"unexpected: {e}" for e in extra])


def first_registry():
    registry = CollectorRegistry()
    jobs = Counter("pc_jobs_processed", "Jobs processed.", ["queue"], registry=registry)
    jobs.labels(queue="default").inc(3)
    Gauge("pc_temperature_celsius", "Current temperature.", registry=registry).set(21.5)
    latency = Summary("pc_request_latency_seconds", "Request latency.", registry=registry)
    latency.observe(0.25)
    latency.observe(0.5)
    size = Histogram("pc_payload_bytes", "Payload size.", buckets=(100, 1000, 10000),
                     registry=registry)
    for value in (50, 500, 5000, 50000):
        size.observe(value)
    return registry


def second_registry():
    registry = CollectorRegistry()
    Gauge("pc_last_success_unixtime", "Last success.", registry=registry).set(1700000000)
    return registry


def conflicting_registry():
    # pc_temperature_celsius already exists as a gauge in our group: a summary of the
    # same name in another group must be rejected (spec §5.6). (A Counter would not
    # do: the client renames it to pc_temperature_celsius_total.)
    registry = CollectorRegistry()
    Summary("pc_temperature_celsius", "Wrong type.", registry=registry).observe(1)
    return registry


# Exact lines the gateway must render (labels sorted, Go float format, spec §7.4).
LBL = 'empty_label="",instance="host/1:9100",job="pyclient"'
EXACT_LINES = [
    "# TYPE pc_jobs_processed_total counter",
    f'pc_jobs_processed_total{{{LBL},queue="default"}} 3',
    "# HELP pc_temperature_celsius Current temperature.",
    "# TYPE pc_temperature_celsius gauge",
    f"pc_temperature_celsius{{{LBL}}} 21.5",
    "# TYPE pc_request_latency_seconds summary",
    f"pc_request_latency_seconds_sum{{{LBL}}} 0.75",
    f"pc_request_latency_seconds_count{{{LBL}}} 2",
    "# TYPE pc_payload_bytes histogram",
    f'pc_payload_bytes_bucket{{{LBL},le="100"}} 1',
    f'pc_payload_bytes_bucket{{{LBL},le="1000"}} 2',
    f'pc_payload_bytes_bucket{{{LBL},le="10000"}} 3',
    f'pc_payload_bytes_bucket{{{LBL},le="+Inf"}} 4',
    f"pc_payload_bytes_sum{{{LBL}}} 55550",
    f"pc_payload_bytes_count{{{LBL}}} 4",
    f"push_failure_time_seconds{{{LBL}}} 0",
]


def check_push(c, base):
    reg = first_registry()
    try:
        push_to_gateway(base, job=JOB, registry=reg, grouping_key=GROUPING_KEY)
        c.check("push_to_gateway accepted", True)
    except Exception as err:  # the client raises OSError/HTTPError subclasses
        c.check("push_to_gateway accepted", False, err)
        return
    got, body = group_series(base)
    c.check("scrape shows exactly the pushed series", got == expected_series(reg),
            describe(got, expected_series(reg)))
    lines = body.splitlines()
    missing = [line for line in EXACT_LINES if line not in lines]
    c.check("scrape renders the expected lines", not missing, "\n".join(missing))
    push_time = [line for line in lines if line.startswith(f"push_time_seconds{{{LBL}}} ")]
    c.check("push_time_seconds is set", len(push_time) == 1 and
            float(push_time[0].rsplit(" ", 1)[1]) > 1e9, push_time)
    check_api_labels(c, base)


def check_api_labels(c, base):
    status, body = http_get(base, "/api/v1/metrics")
    try:
        groups = json.loads(body)["data"]
    except (ValueError, KeyError) as err:
        c.check("API lists the group with its grouping labels", False, f"{status}: {err}")
        return
    labels = [g.get("labels") for g in groups if g.get("labels", {}).get("job") == JOB]
    c.check("API lists the group with its grouping labels", labels == [GROUP_LABELS], labels)


def check_pushadd(c, base):
    try:
        pushadd_to_gateway(base, job=JOB, registry=second_registry(), grouping_key=GROUPING_KEY)
        c.check("pushadd_to_gateway accepted", True)
    except Exception as err:
        c.check("pushadd_to_gateway accepted", False, err)
        return
    got, _ = group_series(base)
    want = expected_series(first_registry(), second_registry())
    # Re-created registries have identical values, so the sets must match exactly.
    c.check("pushadd keeps the old families and adds the new one", got == want, describe(got, want))


def check_conflict(c, base):
    try:
        push_to_gateway(base, job="pyclient_conflict", registry=conflicting_registry())
        c.check("conflicting push raises in the client", False, "push was accepted")
    except Exception as err:
        c.check("conflicting push raises in the client", "400" in str(err), err)
    got, _ = group_series(base)
    want = expected_series(first_registry(), second_registry())
    c.check("rejected push leaves our group unchanged", got == want, describe(got, want))
    delete_from_gateway(base, job="pyclient_conflict")


def check_replace(c, base):
    push_to_gateway(base, job=JOB, registry=second_registry(), grouping_key=GROUPING_KEY)
    got, _ = group_series(base)
    want = expected_series(second_registry())
    c.check("push_to_gateway replaces the whole group", got == want, describe(got, want))


def check_delete(c, base):
    try:
        delete_from_gateway(base, job=JOB, grouping_key=GROUPING_KEY)
        c.check("delete_from_gateway accepted", True)
    except Exception as err:
        c.check("delete_from_gateway accepted", False, err)
        return
    # DELETE is answered when queued (spec §5.8): poll, bounded, until it is applied.
    deadline = time.monotonic() + DELETE_VISIBLE_DEADLINE_S
    while True:
        _, body = http_get(base, "/metrics")
        left = [line for line in body.splitlines() if f'job="{JOB}"' in line]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    c.check("group is gone from the scrape", not left, "\n".join(left))


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base = sys.argv[1].rstrip("/")
    if hasattr(prometheus_client, "disable_created_metrics"):
        # *_created gauges are timestamps of this process; they add nothing here.
        prometheus_client.disable_created_metrics()
    print(f"prometheus_client {importlib.metadata.version('prometheus_client')} -> {base}")
    c = Checks()
    try:
        check_push(c, base)
        check_pushadd(c, base)
        check_conflict(c, base)
        check_replace(c, base)
        check_delete(c, base)
    except (OSError, RuntimeError, http.client.HTTPException) as err:
        c.check("gateway reachable", False, err)
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
