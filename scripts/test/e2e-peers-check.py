#!/usr/bin/env python3
"""Checks of scripts/test/e2e.sh that need parsing: the node_exporter forwarder and Prometheus.

Not started by hand as a rule: scripts/test/e2e.sh starts the peers and calls it.

    e2e-peers-check.py forwarder SOURCE.txt GATEWAY_SCRAPE.txt LABEL=VALUE...
        Every family of SOURCE (what node_exporter served and curl pushed) is in the
        gateway's scrape, and every sample of SOURCE is there with the grouping labels
        added and the same value.
    e2e-peers-check.py prometheus --text URL --native URL --gateway HOST:PORT
        Queries two Prometheus servers scraping the gateway (text scrape with jobs
        "pushgate" (honor_labels) and "pushgate_raw"; protobuf scrape with native
        histograms, job "pushgate") for the values scripts/test/e2e.sh pushed.

Prints one line per check and "N passed, M failed"; exit status 1 if any failed.
Standard library only.
"""

import argparse
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# The shared check helpers live one directory up, in scripts/lib/checks.py.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from checks import LABEL_RE, MANAGED_GAUGES, Checks  # noqa: E402

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+\S+)?$')
FIRST_SCRAPE_DEADLINE_S = 20.0
HTTP_TIMEOUT_S = 10


def families(exposition):
    """Family names of a text exposition: TYPE/HELP names plus names of untyped samples."""
    names = set()
    declared = set()
    for line in exposition.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("TYPE", "HELP"):
            declared.add(parts[2])
            names.add(parts[2])
    for name, _, _ in samples(exposition):
        if not any(name == d or name.startswith(d + "_") for d in declared):
            names.add(name)
    return names


def samples(exposition):
    """(name, frozenset of label pairs, value as a normalised string) per sample line."""
    out = set()
    for line in exposition.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = SAMPLE_RE.match(line)
        if not match:
            raise ValueError(f"unparsable sample line: {line!r}")
        name, labels, value = match.groups()
        pairs = []
        for label, label_value in LABEL_RE.findall(labels or ""):
            if label in ("le", "quantile"):
                label_value = repr(float(label_value))
            pairs.append((label, label_value))
        # repr(float) makes "1e+06" and "1000000" the same value, and NaN equal to NaN.
        out.add((name, frozenset(pairs), repr(float(value))))
    return out


def describe(sample):
    name, pairs, value = sample
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(pairs))
    return f"{name}{{{labels}}} {value}"


def check_forwarder(c, source_file, scrape_file, grouping):
    with open(source_file, encoding="utf-8") as f:
        source = f.read()
    with open(scrape_file, encoding="utf-8") as f:
        scraped = f.read()
    grouping = dict(pair.split("=", 1) for pair in grouping)
    want_families = families(source)
    missing = sorted(want_families - families(scraped))
    c.check(f"all {len(want_families)} families of the source are in the gateway's scrape",
            not missing, "missing: " + " ".join(missing))
    want = set()
    for name, pairs, value in samples(source):
        labels = dict(pairs)
        labels.update(grouping)
        want.add((name, frozenset(labels.items()), value))
    ours = frozenset(grouping.items())
    got = {s for s in samples(scraped) if ours <= s[1] and s[0] not in MANAGED_GAUGES}
    c.check(f"all {len(want)} samples arrive with the grouping labels and their values",
            want == got,
            "\n".join([f"missing: {describe(s)}" for s in sorted(want - got, key=describe)[:20]] +
                      [f"unexpected: {describe(s)}" for s in sorted(got - want, key=describe)[:20]]))


def query(base, promql):
    """The result vector of an instant query, as a list of (labels, value or histogram)."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"query {promql!r}: {body}")
    out = []
    for item in body["data"]["result"]:
        value = item.get("value", item.get("histogram"))
        out.append((item["metric"], value[1]))
    return out


def wait_for_first_scrape(c, name, base, job):
    """Polls (bounded) until the gateway was scraped and the pushed series are in."""
    deadline = time.monotonic() + FIRST_SCRAPE_DEADLINE_S
    started = time.monotonic()
    last = None
    while time.monotonic() < deadline:
        try:
            up = query(base, f'up{{job="{job}"}}')
            pushed = query(base, 'count({job="e2e"})') if job == "pushgate" else \
                query(base, f'count({{job="{job}",exported_job="e2e"}})')
            last = (up, pushed)
            if up and up[0][1] == "1" and pushed:
                c.check(f"{name}: job {job} scraped, up=1 (after {time.monotonic() - started:.1f} s)", True)
                return True
        except (OSError, RuntimeError, urllib.error.URLError) as err:
            last = err
        time.sleep(0.25)
    return c.check(f"{name}: job {job} scraped, up=1 within {FIRST_SCRAPE_DEADLINE_S:.0f} s",
                   False, f"last answer: {last}")


def expect_value(c, name, base, promql, want):
    try:
        result = query(base, promql)
    except (OSError, RuntimeError, urllib.error.URLError) as err:
        return c.check(f"{name}: {promql} = {want}", False, err)
    values = [float(v) for _, v in result if not isinstance(v, dict)]
    ok = len(values) == 1 and (values[0] == want or math.isclose(values[0], want, rel_tol=1e-12))
    return c.check(f"{name}: {promql} = {want}", ok, f"result: {result}")


# (PromQL, value) pairs that hold in every scrape format, for the honor_labels job.
VALUES = [
    ('fx_requests_total{job="e2e",instance="text",code="200",path="/api"}', 1027),
    ('fx_temperature_celsius{job="e2e",room="b"}', 1e-05),
    ('fx_temperature_celsius{job="e2e",room="c"}', math.inf),
    ('fx_untyped{job="e2e",instance="text"}', 42),
    ('fx_without_type_line{job="e2e",big="yes"}', 1.8446744073709552e19),
    ('fx_latency_seconds{job="e2e",quantile="0.9"}', 0.75),
    ('fx_latency_seconds_sum{job="e2e"}', 12.5),
    ('fx_latency_seconds_count{job="e2e"}', 40),
    ('fx_payload_bytes_bucket{job="e2e",le=~"1000|1000.0"}', 7),
    ('fx_payload_bytes_bucket{job="e2e",le="+Inf"}', 9),
    ('fx_payload_bytes_sum{job="e2e"}', 4200),
    ('fx_payload_bytes_count{job="e2e"}', 9),
    ('some_metric{job="e2e",instance="v1"}', 1.234),
    ('another_metric{job="e2e",instance="v1"}', 3.14),
    ('mfh_count{job="e2e",testing="int classic histogram"}', 20),
    ('push_failure_time_seconds{job="e2e",instance="text"}', 0),
]

# Native histograms: only a protobuf scrape carries their buckets; a text scrape sees
# their classic part, where pushgate prints float counts (upstream prints 0, §16 #8).
TEXT_SCRAPE_VALUES = [
    ('histogram_metric_count{job="e2e",instance="v1"}', 20),
    ('histogram_metric_sum{job="e2e",instance="v1"}', 99.23),
]
# Prometheus 2.42 (Debian 12) negotiates protobuf with the feature flag but appends no
# histogram samples for these vectors, from upstream 1.5.1 either: it ingests their
# classic part, reading the integer count field (so 0 for float histograms).
CLASSIC_FALLBACK_VALUES = [
    ('histogram_metric_sum{job="e2e",instance="v1"}', 99.23),
    ('mfh_count{job="e2e",testing="int native histogram"}', 20),
    ('mfh_sum{job="e2e",testing="float native histogram"}', 99.23),
]
NATIVE_SCRAPE_VALUES = [
    ('histogram_count(histogram_metric{job="e2e",instance="v1"})', 20),
    ('histogram_sum(histogram_metric{job="e2e",instance="v1"})', 99.23),
    ('histogram_count(mfh{job="e2e",testing="int native histogram"})', 20),
    ('histogram_count(mfh{job="e2e",testing="float native histogram"})', 20),
]


def check_push_time(c, name, base):
    try:
        result = query(base, 'push_time_seconds{job="e2e",instance="text"}')
    except (OSError, RuntimeError, urllib.error.URLError) as err:
        return c.check(f"{name}: push_time_seconds is the time of the push", False, err)
    now = time.time()
    ok = len(result) == 1 and now - 600 < float(result[0][1]) <= now + 5
    return c.check(f"{name}: push_time_seconds is the time of the push", ok,
                   f"now {now}, result: {result}")


def check_exported_labels(c, name, base, gateway):
    try:
        result = query(base, 'fx_untyped{job="pushgate_raw"}')
    except (OSError, RuntimeError, urllib.error.URLError) as err:
        return c.check(f"{name}: without honor_labels the pushed job is exported_job", False, err)
    want = {"__name__": "fx_untyped", "job": "pushgate_raw", "instance": gateway,
            "exported_job": "e2e", "exported_instance": "text"}
    ok = len(result) == 1 and result[0][0] == want and float(result[0][1]) == 42
    c.check(f"{name}: without honor_labels the pushed job is exported_job", ok,
            f"want {want} 42\ngot  {result}")


def histogram_samples_appended(base):
    """Prometheus' own count of native histogram samples written to its TSDB."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=HTTP_TIMEOUT_S) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith('prometheus_tsdb_head_samples_appended_total{type="histogram"} '):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def check_native_histograms(c, base):
    if histogram_samples_appended(base) > 0:
        for promql, want in NATIVE_SCRAPE_VALUES:
            expect_value(c, "protobuf scrape", base, promql, want)
        return
    print("note  this Prometheus appended no native histogram samples: checking the"
          " classic part it ingests instead")
    for promql, want in CLASSIC_FALLBACK_VALUES:
        expect_value(c, "protobuf scrape, classic part", base, promql, want)


def check_prometheus(c, text_url, native_url, gateway):
    if wait_for_first_scrape(c, "text scrape", text_url, "pushgate"):
        for promql, want in VALUES + TEXT_SCRAPE_VALUES:
            expect_value(c, "text scrape", text_url, promql, want)
        check_push_time(c, "text scrape", text_url)
    if wait_for_first_scrape(c, "text scrape", text_url, "pushgate_raw"):
        check_exported_labels(c, "text scrape", text_url, gateway)
    if wait_for_first_scrape(c, "protobuf scrape", native_url, "pushgate"):
        for promql, want in VALUES:
            expect_value(c, "protobuf scrape", native_url, promql, want)
        check_push_time(c, "protobuf scrape", native_url)
        check_native_histograms(c, native_url)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fwd = sub.add_parser("forwarder")
    fwd.add_argument("source")
    fwd.add_argument("scrape")
    fwd.add_argument("grouping", nargs="+")
    prom = sub.add_parser("prometheus")
    prom.add_argument("--text", required=True)
    prom.add_argument("--native", required=True)
    prom.add_argument("--gateway", required=True)
    args = parser.parse_args()
    c = Checks()
    try:
        if args.command == "forwarder":
            check_forwarder(c, args.source, args.scrape, args.grouping)
        else:
            check_prometheus(c, args.text.rstrip("/"), args.native.rstrip("/"), args.gateway)
    except (OSError, ValueError) as err:
        c.check(f"{args.command} checks ran", False, err)
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
