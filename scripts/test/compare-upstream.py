#!/usr/bin/env python3
"""Differential test: send the same requests to pushgate and to upstream Pushgateway.

Starts pushgate and upstream `prometheus-pushgateway` (both on 127.0.0.1, ephemeral
ports), replays one fixed sequence of pushes, deletes and error cases (spec §3-§7,
checklist §18) against both, and after every step compares the status code, the
error-message text outside quoted client input, Location/Allow headers, and - after
every write - the /metrics exposition without own metrics (pushgateway_*, pushgate_*, process_*,
go_*, promhttp_*) and with push-time values replaced by <t>.

Steps where pushgate deliberately differs (spec "pushgate:") are listed in
EXPECTED_DIFFERENCES: pushgate is then checked against the spec instead and the
step is reported as XDIFF, not as a failure.

Usage:
    scripts/test/compare-upstream.py [--pushgate BIN] [--upstream BIN] [--verbose]

    BIN defaults to the newer of target/release/pushgate and target/debug/pushgate. Passing
    upstream's binary as --pushgate runs a self-test (steps with expected differences
    are then compared on status and scrape only, as upstream words some errors at
    random). Exits 0 when upstream is not installed (skipped), 1 on any unexpected
    difference, 2 on a setup error.

Issue 17 (migration from upstream) adds: the push-path cases of prom-client's %2F,
the 404s of a forgotten job, the scrape Content-Type's escaping parameter, one error
per suffix collision, the 500 body of an inconsistent scrape (a second run of both
with --push.disable-consistency-check), the method/source fields of the rejected-push
log line, the push size of a chunked PUT, the build-info label names, the accepted
flags (--help-long, --help-man, --web.local-assets), and a migration check: upstream
writes its persistence file, then pushgate
and a restarted upstream are started on copies of it and their scrapes (push and
failure times included) must be equal.

Upstream 1.5.1 (the Debian package) is older than the spec's 1.11.3: where the spec
describes newer behaviour (GZIP token, snappy, float histogram counts) the step is an
expected difference, and the bad-base64-job cases run last because 1.5.1 stops
answering pushes and deletes after one of them.
"""

import argparse
import gzip
import http.client
import os
import re
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import gwlib  # noqa: E402

OWN_PREFIXES = ("pushgateway_", "pushgate_", "process_", "go_", "promhttp_")
MANAGED_GAUGES = ("push_time_seconds", "push_failure_time_seconds")
CONSISTENCY = "pushed metrics are invalid or inconsistent with existing metrics: "
# DELETE answers 202 once queued (spec §5.8). A checked push is answered only after it
# was applied, in order, so an empty push to this group makes the delete visible.
BARRIER_PATH = "/metrics/job/compare_barrier"
BARRIER_LABEL = 'job="compare_barrier"'
REQUEST_TIMEOUT_S = 10


@dataclass
class Step:
    name: str
    method: str
    path: str
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    # False where the spec leaves the text open (e.g. a decoder's own message).
    compare_body: bool = True
    # True to compare the whole body, not only the first line outside quoted input.
    full_body: bool = False


@dataclass
class Expected:
    """What pushgate must answer on a step where it deliberately differs from upstream."""
    reason: str
    status: int
    body_prefix: str = None
    body_suffix: str = None
    header: tuple = None                 # (name, exact value)
    skip_metrics: bool = False           # upstream's scrape is broken (500) after this step
    ignore_lines: str = None             # regex: exposition lines upstream renders at random
    required_lines: tuple = ()           # lines pushgate's normalised exposition must contain


# Test vectors of spec Appendix A.
V1 = bytes.fromhex(
    "1c0a0b736f6d655f6d65747269631803220b2a09095839b4c876bef33f1f0a0e616e6f746865725f6d657472"
    "69631803220b2a09091f85eb51b81e09408c010a10686973746f6772616d5f6d6574726963180422763a7421"
    "0000000000003440111f85eb51b8ce584028024a04080010024a040800100259000000000000004059000000"
    "00000000405900000000000000c05900000000000000006204080010026204080010027100000000000000"
    "407100000000000000407100000000000000c0710000000000000000")
V1_FIRST_FRAME = 1 + 0x1c  # varint length byte + `some_metric` untyped 1.234
V3 = bytes.fromhex("ff060000734e6150705901150000d0e78610736f6d655f6d657472696320332e31340a")
V4 = bytes.fromhex("ff060000734e6150705900170000d0e786101140736f6d655f6d657472696320332e31340a")
PROTOBUF = {"Content-Type": "application/vnd.google.protobuf; "
                            "proto=io.prometheus.client.MetricFamily; encoding=delimited"}
PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited")


def text(s):
    return s.encode()


def gz(data):
    return gzip.compress(data)


def steps():
    """The request sequence. Order matters: later steps build on the store left behind."""
    P = "PUT"
    return [
        # Routing and health (checklist 1-4).
        Step("healthy", "GET", "/-/healthy"),
        Step("ready", "GET", "/-/ready"),
        Step("405 on push path", "GET", "/metrics/job/x"),
        Step("405 on scrape path", "POST", "/metrics"),
        Step("404", "GET", "/nope"),
        Step("trailing slash 307", P, "/metrics/job/"),
        Step("path cleaning 301", P, "/metrics/job/j8/a//b/c"),
        # URL grammar (checklist 5-13, spec §3).
        Step("empty job POST", "POST", "/metrics/job@base64/="),
        Step("empty job DELETE", "DELETE", "/metrics/job@base64/="),
        Step("job only, empty body", "POST", "/metrics/job/testjob"),
        Step("regular labels", P, "/metrics/job/j/label_name1/label_value1/label_name2/label_value2",
             text("m 1\n")),
        Step("improper label name", P, "/metrics/job/j/label_name1/label_value1/a=b/label_value2",
             text("m 1\n")),
        Step("reserved label name", P,
             "/metrics/job/j/label_name1/label_value1/__label_name2/label_value2", text("m 1\n")),
        Step("odd components", P, "/metrics/job/j/label_name1/label_value1/label_name2/label/value2",
             text("m 1\n")),
        Step("encoded slash stays in the value", P, "/metrics/job/j/instance/a%2Fb", text("m 1\n")),
        Step("encoded slash: delete", "DELETE", "/metrics/job/j/instance/a%2Fb"),
        # Issue 17: prom-client writes a / inside a value as %2F.
        Step("prom-client encoded path value", P, "/metrics/job/j/path/%2Fvar%2Ftmp", text("m 1\n")),
        Step("prom-client encoded path value: delete", "DELETE", "/metrics/job/j/path/%2Fvar%2Ftmp"),
        Step("encoded slash after job", P, "/metrics/job%2F/j4", text("m 1\n")),
        Step("POST /metrics/ (job forgotten)", "POST", "/metrics/", text("m 1\n")),
        Step("PUT job@base64/ (empty job)", P, "/metrics/job@base64/", text("m 1\n")),
        Step("DELETE /metrics/", "DELETE", "/metrics/"),
        Step("GET /metrics/ redirects", "GET", "/metrics/"),
        Step("scrape Content-Type", "GET", "/metrics"),
        Step("scrape Content-Type, allow-utf-8", "GET", "/metrics",
             headers={"Accept": "text/plain;version=0.0.4;escaping=allow-utf-8"}),
        Step("scrape Content-Type, protobuf", "GET", "/metrics", headers={"Accept": PROTOBUF_ACCEPT}),
        Step("base64 values with padding", P,
             "/metrics/job/j/label_name1@base64/bGFiZWwvdmFsdWUx/label_name2@base64/bGFiZWwvdmFsdWUy==",
             text("m 1\n")),
        Step("invalid base64 label", P,
             "/metrics/job/j/label_name1@base64/foo.bar/label_name2/label_value2", text("m 1\n")),
        Step("base64 job and instance", "POST",
             "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl",
             text("some_metric 3.14\n")),
        Step("delete base64 group", "DELETE",
             "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl"),
        Step("base64 UTF-8 job", P, "/metrics/job@base64/zqDPgc6_zrzOt864zrXPjc-C", text("u 1\n")),
        Step("base64 empty value", P, "/metrics/job/example/first_label@base64/=/second_label/foobar",
             text("e 1\n")),
        Step("duplicate URL label, last wins", P, "/metrics/job/dup/b/1/b/2", text("d 1\n")),
        Step("job pair in label part ignored", P, "/metrics/job/jj/job/other", text("jj 1\n")),
        Step("query string ignored", P, "/metrics/job/q?x=1", text("q 1\n")),
        Step("poison pill", "POST", "/metrics/job/%FF", text("m 1\n")),
        Step("poison pill antidote", "DELETE", "/metrics/job@base64/_w"),
        # Bodies (checklist 19-25, spec §4.2).
        Step("text body", "POST", "/metrics/job/testjob/instance/testinstance",
             text('some_metric 3.14\nanother_metric{instance="testinstance",job="testjob"} 42\n')),
        Step("invalid text", "POST", "/metrics/job/bad", text("blablabla\n")),
        Step("missing final newline", "POST", "/metrics/job/bad", text("a 1")),
        Step("carriage return", "POST", "/metrics/job/bad", text("a 1\r\n")),
        Step("second HELP", "POST", "/metrics/job/bad", text("# HELP h1 x\n# HELP h1 y\nh1 1\n")),
        Step("second TYPE", "POST", "/metrics/job/bad", text("# TYPE h2 gauge\nh2 1\n# TYPE h2 gauge\n")),
        Step("unknown TYPE", "POST", "/metrics/job/bad", text("# TYPE h3 gaugy\nh3 1\n")),
        Step("bad HELP escape", "POST", "/metrics/job/bad", text("# HELP h4 a\\qb\nh4 1\n")),
        Step("duplicate label names", "POST", "/metrics/job/bad", text('x{a="1",a="2"} 1\n')),
        Step("invalid label value UTF-8", "POST", "/metrics/job/bad", b'x{a="\xff"} 1\n'),
        Step("reserved __name__ label", "POST", "/metrics/job/bad", text('x{__name__="y"} 1\n')),
        Step("bad timestamp", "POST", "/metrics/job/bad", text("x 1 abc\n")),
        Step("spurious token", "POST", "/metrics/job/bad", text("x 1 2 3\n")),
        Step("bad quantile", "POST", "/metrics/job/bad",
             text('# TYPE s1 summary\ns1{quantile="x"} 1\n')),
        Step("bad le", "POST", "/metrics/job/bad", text('# TYPE h5 histogram\nh5_bucket{le="x"} 1\n')),
        Step("mixed label dimensions", "POST", "/metrics/job/mixed", text('a 1\na{x="2"} 2\n')),
        Step("trailing comma, empty braces", "POST", "/metrics/job/commas",
             text('tc{a="1",} 1\nte{} 2\n')),
        Step("timestamps rejected", "POST", "/metrics/job/testjob/instance/testinstance",
             text("a 1\nb 1 1000\n")),
        Step("gzip body", P, "/metrics/job/gz", gz(b"some_metric 3.14\n"), {"Content-Encoding": "gzip"}),
        Step("gzip upper-case token", P, "/metrics/job/gz2", gz(b"some_metric 3.15\n"),
             {"Content-Encoding": "GZIP"}),
        Step("gzip: resync", "DELETE", "/metrics/job/gz2"),
        Step("corrupt gzip", P, "/metrics/job/gz3", text("xyz"), {"Content-Encoding": "gzip"},
             compare_body=False),
        Step("unknown encoding ignored", P, "/metrics/job/br", text("br_metric 1\n"),
             {"Content-Encoding": "br"}),
        Step("snappy framed, uncompressed chunk", P, "/metrics/job/sn", V3, {"Content-Encoding": "snappy"}),
        Step("snappy framed, compressed chunk", P, "/metrics/job/sn", V4, {"Content-Encoding": "snappy"}),
        Step("snappy header on a plain body", P, "/metrics/job/sn3", text("a 1\n"),
             {"Content-Encoding": "snappy"}),
        Step("snappy: resync", "DELETE", "/metrics/job/sn"),
        Step("snappy: resync 2", "DELETE", "/metrics/job/sn3"),
        # Protobuf (checklist 23, spec §4.3-§4.4).
        Step("protobuf untyped", P, "/metrics/job/pb", V1[:V1_FIRST_FRAME], PROTOBUF),
        Step("protobuf with native float histogram", P, "/metrics/job/pb1", V1, PROTOBUF),
        Step("protobuf: resync", "DELETE", "/metrics/job/pb1"),
        Step("protobuf truncated frame", P, "/metrics/job/pb2", V1[:20], PROTOBUF, compare_body=False),
        # Write semantics (checklist 26-31, spec §5.2-§5.4).
        Step("PUT a,b", P, "/metrics/job/ps", text("a 1\nb 1\n")),
        Step("POST a,c keeps b", "POST", "/metrics/job/ps", text("a 2\nc 3\n")),
        Step("PUT c replaces all", P, "/metrics/job/ps", text("c 4\n")),
        Step("POST empty keeps c", "POST", "/metrics/job/ps"),
        Step("PUT empty leaves gauges", P, "/metrics/job/ps"),
        Step("replace: timestamp first", P, "/metrics/job/job1", text("mf1 -3000 103948\n")),
        Step("replace: valid", P, "/metrics/job/job1", text('mf1{instance="instance2"} -3000\n')),
        Step("replace: +Inf/-Inf order", P, "/metrics/job/job1", text(
            '# HELP mf2 doc string 2\n# TYPE mf2 gauge\n'
            'mf2{basename="basevalue2",instance="instance2",labelname="val2"} +Inf\n'
            'mf2{instance="instance2",labelname="val1"} -Inf\n')),
        Step("replace: timestamp keeps mf2", P, "/metrics/job/job1", text("mf1 1 5\n")),
        Step("replace: empty", P, "/metrics/job/job1"),
        Step("sanitise: URL labels win", "POST", "/metrics/job/job1/instance/instance2",
             text('mf1{instance="instance1",job="job2"} 42\n')),
        Step("sanitise: body instance kept", "POST", "/metrics/job/k",
             text('m{instance="foo",job="other"} 1\n')),
        Step("managed gauges in body", "POST", "/metrics/job/pt",
             text("push_time_seconds 5\npush_failure_time_seconds 7\n")),
        Step("merge order 1", P, "/metrics/job/j11", text("x 1\n")),
        Step("merge order 2 (empty trailing value)", P, "/metrics/job/j7/a/", text("x 2\n")),
        Step("exact delete: setup", P, "/metrics/job/del", text("dm 1\n")),
        Step("exact delete: setup 2", P, "/metrics/job/del/instance/i1", text("dm 2\n")),
        Step("exact delete", "DELETE", "/metrics/job/del"),
        Step("delete missing group", "DELETE", "/metrics/job/never"),
        # Consistency (checklist 32-36, spec §5.6).
        Step("own metric type conflict", "POST", "/metrics/job/cjob1",
             text("# TYPE process_open_fds counter\nprocess_open_fds 5\n")),
        Step("cross-group: first", "POST", "/metrics/job/cjob1", text('cmf1{instance="instance2"} -3000\n')),
        Step("cross-group: duplicate series", "POST", "/metrics/job/cjob1/instance/instance2",
             text("cmf1 42\n")),
        Step("type conflict: first", "POST", "/metrics/job/ta", text("some_tmetric 1\n")),
        Step("type conflict: second", "POST", "/metrics/job/tb",
             text("# TYPE some_tmetric gauge\nsome_tmetric 2\n")),
        Step("duplicate in one push", "POST", "/metrics/job/dd", text("d 1\nd 2\n")),
        Step("suffix: summary", "POST", "/metrics/job/sa", text("# TYPE s summary\ns_sum 1\ns_count 1\n")),
        Step("suffix: collision", "POST", "/metrics/job/sb", text("s_count 5\n")),
        Step("suffix: two members, one error", "POST", "/metrics/job/sc",
             text("s_count 5\ns_sum 2\n")),
        Step("HELP: job2", "POST", "/metrics/job/job2",
             text("# HELP mf_help Help string for mfh2.\n# TYPE mf_help gauge\nmf_help 83\n")),
        Step("HELP: job1 with own family", "POST", "/metrics/job/job1", text(
            "# HELP process_open_fds Inconsistent doc string.\n# TYPE process_open_fds gauge\n"
            "process_open_fds 3\n# HELP mf_help Help string for mfh1.\n# TYPE mf_help gauge\n"
            "mf_help 3948.838\n")),
        # Rendering (checklist 41).
        Step("float formatting", P, "/metrics/job/f", text(
            "a 1583781848.025745\nb 0.0001\nc 0.00001\nd 1000000\ne 123456\nf +Inf\ng NaN\n"
            "h -Inf\ni 1e21\n")),
        Step("summary and histogram", P, "/metrics/job/sh", text(
            '# TYPE lat summary\nlat{quantile="0.5"} 1\nlat{quantile="0.99"} 2\nlat_sum 10\n'
            'lat_count 5\n# TYPE hist histogram\nhist_bucket{le="0.5"} 1\nhist_bucket{le="1"} 3\n'
            'hist_sum 2.5\nhist_count 4\n')),
        Step("escaped label value", P, "/metrics/job/esc", text('v{l="a\\"b\\\\c\\nd"} 1\n')),
        Step("empty PUT to new group", P, "/metrics/job/emptyput"),
        # Last: after a bad base64 job, upstream 1.5.1 leaves a lock taken and hangs
        # later pushes and deletes (seen with 1.5.1; the spec's 1.11.3 answers them).
        Step("invalid base64 job, PUT", P, "/metrics/job@base64/ab.c", text("m 1\n")),
        Step("invalid base64 job, DELETE", "DELETE", "/metrics/job@base64/ab.c"),
    ]


# Steps on which pushgate deliberately answers differently (spec "pushgate:" marks).
EXPECTED_DIFFERENCES = {
    "405 on scrape path": Expected(
        "§2.1: pushgate adds HEAD wherever GET exists", 405,
        "Method Not Allowed", header=("allow", "GET, HEAD, OPTIONS")),
    "poison pill": Expected(
        "§3 step 6 / §16 #1: non-UTF-8 URL value rejected before the store is touched; "
        "upstream stores group {job=\"\\xff\"} and every scrape then fails with 500", 400,
        'label value for "job" in URL path is not valid UTF-8', skip_metrics=True),
    "poison pill antidote": Expected(
        "§3 step 6: a non-UTF-8 grouping value is refused for DELETE too; pushgate never "
        "stored the poison group, so there is nothing to delete", 400,
        'label value for "job" in URL path is not valid UTF-8'),
    "gzip upper-case token": Expected(
        "§4.1: Content-Encoding is case-insensitive (upstream 1.5.1 only knows \"gzip\")", 200, "",
        ignore_lines=r'job="gz2"', required_lines=('some_metric{instance="",job="gz2"} 3.15',)),
    "snappy framed, uncompressed chunk": Expected(
        "§4.1: framed snappy bodies (upstream 1.5.1 has no snappy)", 200, "",
        ignore_lines=r'job="sn"', required_lines=('some_metric{instance="",job="sn"} 3.14',)),
    "snappy framed, compressed chunk": Expected(
        "§4.1: framed snappy bodies (upstream 1.5.1 has no snappy)", 200, "",
        ignore_lines=r'job="sn"', required_lines=('some_metric{instance="",job="sn"} 3.14',)),
    "snappy header on a plain body": Expected(
        "§4.1: a body that is not framed snappy is a 400 (upstream 1.5.1 ignores the header)",
        400, ignore_lines=r'job="sn3?"'),
    "snappy: resync": Expected(
        "cascade of the snappy steps: upstream 1.5.1 stored sn3 with the header ignored", 202,
        ignore_lines=r'job="sn3"'),
    "protobuf with native float histogram": Expected(
        "§7.4 / §16 #8: float histograms print their float counts (upstream prints 0)", 200, "",
        ignore_lines=r'^histogram_metric_(bucket|count)\{.*job="pb1"',
        required_lines=('histogram_metric_bucket{instance="",job="pb1",le="+Inf"} 20',
                        'histogram_metric_count{instance="",job="pb1"} 20')),
    "type conflict: second": Expected(
        "§5.6: pushgate names the existing type; upstream's wording depends on Go map "
        "order (either group can be reported)", 400,
        CONSISTENCY + 'collected metric "some_tmetric"', body_suffix="is not a UNTYPED"),
    "suffix: collision": Expected(
        "§5.6: pushgate blames the pushed family; upstream's wording depends on Go map order",
        400, CONSISTENCY + 'collected metric named "s_count" collides with previously '
        'collected summary named "s"'),
    "encoded slash stays in the value": Expected(
        "issue 17: the path is split at / before decoding, so %2F stays in the value "
        "(upstream 1.5.1 answers 301 to a path where it became a separator; clients "
        "take that for success and the push is lost)", 200, "",
        ignore_lines=r'instance="a/b"', required_lines=('m{instance="a/b",job="j"} 1',)),
    "encoded slash: delete": Expected(
        "issue 17: the same raw path deletes that group (upstream answers 301)", 202),
    "prom-client encoded path value": Expected(
        "issue 17: prom-client's %2F in a value stays in it (upstream 1.5.1 answers 301)",
        200, "", ignore_lines=r'path="/var/tmp"',
        required_lines=('m{instance="",job="j",path="/var/tmp"} 1',)),
    "prom-client encoded path value: delete": Expected(
        "issue 17: the same raw path deletes that group (upstream answers 301)", 202),
    "encoded slash after job": Expected(
        "issue 17: a %2F that turns /metrics/job into something else is a 400 naming "
        "@base64 (upstream answers 301 to /metrics/job/j4, a different group)", 400,
        "invalid push path segment"),
    "scrape Content-Type": Expected(
        "issue 17: the Content-Type names the escaping scheme, as upstream 1.8+ "
        "(1.5.1 predates it)", 200,
        header=("content-type", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores")),
    "scrape Content-Type, allow-utf-8": Expected(
        "issue 17: escaping negotiated from Accept, as upstream 1.8+", 200,
        header=("content-type", "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8")),
    "scrape Content-Type, protobuf": Expected(
        "issue 17: escaping named for protobuf too, as upstream 1.8+", 200,
        header=("content-type", "application/vnd.google.protobuf; "
                "proto=io.prometheus.client.MetricFamily; encoding=delimited; "
                "escaping=underscores")),
    "suffix: two members, one error": Expected(
        "§5.6: one error per collision, upstream's single-error form (upstream reports "
        "one or two errors depending on Go map order)", 400,
        CONSISTENCY + 'collected histogram or summary named "s" collides with previously '
        'collected metric named "s_count"', body_suffix='named "s_count"'),
    "HELP: job1 with own family": Expected(
        "§7.3 / §16 #2: pushgate takes HELP from the group whose key sorts first; "
        "upstream picks a random group per scrape", 200,
        ignore_lines=r"^# HELP mf_help ",
        required_lines=("# HELP mf_help Help string for mfh1.",)),
}
# Steps after which upstream's random HELP may show up in every later scrape.
RANDOM_HELP_AFTER = "HELP: job1 with own family"


def normalise_exposition(body):
    """Exposition lines without own metrics, with non-zero push times written as <t>."""
    lines = []
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[2].startswith(OWN_PREFIXES):
                continue
            lines.append(line)
            continue
        if BARRIER_LABEL in line:
            continue
        name = re.match(r"[^{ ]*", line).group(0)
        # Own families can also hold pushed series (they carry a job label): keep those.
        if name.startswith(OWN_PREFIXES) and 'job="' not in line:
            continue
        if name in MANAGED_GAUGES:
            series, _, value = line.rpartition(" ")
            if value != "0":
                line = f"{series} <t>"
        lines.append(line)
    return lines


def message_key(body):
    """The parts of an error text that do not quote client input.

    Returns (head, tail): head runs up to the first quote, brace or newline; tail is
    what follows the last quote or brace on the first line. Quoted input and series
    dumps (whose layout is unstable upstream, spec §5.6) are left out.
    """
    first = body.decode("utf-8", "replace").split("\n", 1)[0]
    head = re.split(r'["{]', first, maxsplit=1)[0]
    cut = max(first.rfind('"'), first.rfind("}"))
    tail = first[cut + 1:] if cut >= 0 else ""
    return head, tail


@dataclass
class Outcome:
    status: int
    headers: dict
    body: bytes
    metrics: list = None
    metrics_status: int = None


def request(gateway, method, path, body=b"", headers=None):
    """Like Gateway.request, but a transport failure becomes status 0 with the error as body."""
    try:
        return gateway.request(method, path, body, headers, timeout=REQUEST_TIMEOUT_S)
    except (OSError, http.client.HTTPException) as err:
        return 0, {}, f"<no HTTP answer: {err!r}>".encode()


# How long an asynchronous write of upstream's may take to be applied.
UPSTREAM_QUEUE_GRACE = 0.25


def run_step(gateway, step):
    """Sends the step's request; after a write also scrapes and normalises /metrics."""
    status, headers, body = request(gateway, step.method, step.path, step.body, step.headers)
    outcome = Outcome(status, headers, body)
    if step.method == "DELETE" and status == 202:
        request(gateway, "POST", BARRIER_PATH)
    if step.method in ("PUT", "POST", "DELETE") and status == 202:
        # Upstream answers 202 before applying the write when it does not
        # check consistency (--push.disable-consistency-check), and the
        # barrier push above is then asynchronous too: give its queue time
        # to apply the write before the scrape compares. pushgate applies
        # every write before it answers, so this only waits.
        time.sleep(UPSTREAM_QUEUE_GRACE)
    if step.method in ("PUT", "POST", "DELETE"):
        m_status, _, m_body = request(gateway, "GET", "/metrics")
        outcome.metrics_status = m_status
        outcome.metrics = normalise_exposition(m_body) if m_status == 200 else [
            m_body.decode("utf-8", "replace").split("\n", 1)[0]]
    return outcome


def response_differences(step, ours, theirs):
    diffs = []
    if ours.status != theirs.status:
        diffs.append(f"status {ours.status} != upstream {theirs.status}")
    if step.compare_body and 300 <= ours.status < 400:
        for name in ("location",):
            if ours.headers.get(name) != theirs.headers.get(name):
                diffs.append(f"{name}: {ours.headers.get(name)!r} != {theirs.headers.get(name)!r}")
    if ours.status == 405 and ours.headers.get("allow") != theirs.headers.get("allow"):
        diffs.append(f"allow: {ours.headers.get('allow')!r} != {theirs.headers.get('allow')!r}")
    if step.compare_body and message_key(ours.body) != message_key(theirs.body):
        diffs.append(f"body {ours.body[:200]!r} != upstream {theirs.body[:200]!r}")
    elif step.full_body and ours.body != theirs.body:
        diffs.append(f"body {ours.body[:300]!r} != upstream {theirs.body[:300]!r}")
    return diffs


def metrics_differences(ours, theirs, ignore_re=None):
    if ours.metrics is None:
        return []
    diffs = []
    if ours.metrics_status != theirs.metrics_status:
        diffs.append(f"scrape status {ours.metrics_status} != upstream {theirs.metrics_status}")
    keep = (lambda l: not ignore_re.search(l)) if ignore_re else (lambda l: True)
    a = [l for l in ours.metrics if keep(l)]
    b = [l for l in theirs.metrics if keep(l)]
    if a != b:
        only_ours = [l for l in a if l not in b]
        only_theirs = [l for l in b if l not in a]
        if not only_ours and not only_theirs:
            diffs.append("scrape: same lines, different order")
        diffs += [f"scrape only in pushgate:  {l}" for l in only_ours[:8]]
        diffs += [f"scrape only in upstream:  {l}" for l in only_theirs[:8]]
    return diffs


def expected_difference_failures(exp, ours):
    """How pushgate misses its own spec on a step listed in EXPECTED_DIFFERENCES."""
    fails = []
    if ours.status != exp.status:
        fails.append(f"status {ours.status}, spec says {exp.status}")
    body = ours.body.decode("utf-8", "replace")
    if exp.body_prefix is not None and not body.startswith(exp.body_prefix):
        fails.append(f"body {body[:120]!r} does not start with {exp.body_prefix!r}")
    if exp.body_suffix is not None and not body.rstrip("\n").endswith(exp.body_suffix):
        fails.append(f"body {body[-120:]!r} does not end with {exp.body_suffix!r}")
    if exp.header and ours.headers.get(exp.header[0]) != exp.header[1]:
        fails.append(f"{exp.header[0]}: {ours.headers.get(exp.header[0])!r}, spec says {exp.header[1]!r}")
    if exp.skip_metrics and ours.metrics_status not in (None, 200):
        fails.append(f"scrape status {ours.metrics_status}, spec says 200")
    for line in exp.required_lines:
        if ours.metrics is not None and line not in ours.metrics:
            fails.append(f"scrape lacks {line!r}")
    return fails


MAX_CONSECUTIVE_TRANSPORT_ERRORS = 3


def ignore_pattern(*patterns):
    """One regex matching any of the given line patterns (None when there are none)."""
    patterns = [p for p in patterns if p]
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def judge(step, exp, ours, theirs, ignore):
    """Returns (verdict, notes): verdict is "ok", "DIFF" or "XDIFF"."""
    if exp is None:
        diffs = response_differences(step, ours, theirs) + metrics_differences(ours, theirs, ignore)
        return ("DIFF" if diffs else "ok"), diffs
    fails = expected_difference_failures(exp, ours)
    if not exp.skip_metrics:
        fails += metrics_differences(ours, theirs, ignore_pattern(exp.ignore_lines,
                                                                  ignore and ignore.pattern))
    if fails:
        return "DIFF", ["(listed as an expected difference, but pushgate misses the spec)"] + fails
    differs = response_differences(step, ours, theirs) or metrics_differences(ours, theirs, ignore)
    seen = "differs as expected" if differs else "no difference seen"
    return "XDIFF", [f"{seen}: {exp.reason}"]


def compare(pushgate, upstream, self_test, verbose, step_list=None, expected=None):
    """Replays steps() (or step_list) against both gateways; returns (passed, failed, expected)."""
    step_list = steps() if step_list is None else step_list
    expected = EXPECTED_DIFFERENCES if expected is None else expected
    counts = {"ok": 0, "DIFF": 0, "XDIFF": 0}
    help_is_random = False
    transport_errors = 0
    for number, step in enumerate(step_list, 1):
        ours = run_step(pushgate, step)
        theirs = run_step(upstream, step)
        exp = expected.get(step.name)
        if exp and self_test:
            # Upstream against itself: its texts may be random here, so compare
            # status, headers and scrape only.
            step = Step(**{**step.__dict__, "compare_body": False, "full_body": False})
            exp = None
        help_is_random = help_is_random or step.name == RANDOM_HELP_AFTER
        ignore = ignore_pattern(help_is_random and EXPECTED_DIFFERENCES[RANDOM_HELP_AFTER].ignore_lines)
        verdict, notes = judge(step, exp, ours, theirs, ignore)
        counts[verdict] += 1
        detail = f"  -> {ours.status}" if verbose else ""
        print(f"{verdict:5s} {number:3d} {step.method:6s} {step.path[:60]:60s} {step.name}{detail}")
        for note in notes:
            print(f"        {note}")
        if verbose and (ours.status >= 400 or theirs.status >= 400):
            print(f"        pushgate: {ours.body[:160]!r}")
            print(f"        upstream: {theirs.body[:160]!r}")
        transport_errors = transport_errors + 1 if ours.status == 0 or theirs.status == 0 else 0
        if transport_errors >= MAX_CONSECUTIVE_TRANSPORT_ERRORS:
            print(f"giving up: {transport_errors} steps in a row without an HTTP answer")
            counts["DIFF"] += 1
            break
    return counts["ok"], counts["DIFF"], counts["XDIFF"]


def unchecked_steps():
    """Issue 17: the 500 of an inconsistent scrape (both with --push.disable-consistency-check)."""
    P = "PUT"
    return [
        Step("unchecked: summary", P, "/metrics/job/c", text("# TYPE sc summary\nsc_sum 1\nsc_count 1\n")),
        Step("unchecked: member of it", P, "/metrics/job/d", text("sc_count 1\n")),
        Step("unchecked: scrape with a suffix collision", "GET", "/metrics", compare_body=False,
             full_body=True),
        Step("unchecked: resync", "DELETE", "/metrics/job/d"),
        Step("unchecked: gauge", P, "/metrics/job/a", text("# TYPE tc gauge\ntc 1\n")),
        Step("unchecked: counter of the same name", P, "/metrics/job/b",
             text("# TYPE tc counter\ntc 1\n")),
        Step("unchecked: scrape with a type conflict", "GET", "/metrics", compare_body=False,
             full_body=True),
    ]


UNCHECKED_EXPECTED = {
    "unchecked: scrape with a suffix collision": Expected(
        "§7.5: one error per collision as upstream; upstream words it from either side "
        "depending on Go map order, pushgate from the summary's side", 500,
        'An error has occurred while serving metrics:\n\ncollected histogram or summary named '
        '"sc" collides with previously collected metric named "sc_count"\n'),
    "unchecked: scrape with a type conflict": Expected(
        "§7.5: upstream's wording; which group is reported depends on Go map order upstream, "
        "pushgate reports the later group in grouping-key order", 500,
        'An error has occurred while serving metrics:\n\ncollected metric "tc" { ',
        body_suffix="} is not a GAUGE"),
}


def compare_unchecked(pushgate_bin, upstream_bin, self_test, verbose):
    flags = ["--push.disable-consistency-check"]
    with gwlib.Gateway(pushgate_bin, "pushgate", flags, echo=verbose) as ours, \
            gwlib.Gateway(upstream_bin, "upstream", flags, echo=verbose) as theirs:
        return compare(ours, theirs, self_test, verbose, unchecked_steps(), UNCHECKED_EXPECTED)


LOG_LINE = re.compile(r'level=error msg="pushed metrics are invalid or inconsistent with existing '
                      r'metrics" method=(\S+) source=(\S+) err=')


def log_differences(ours, theirs):
    """Issue 17: the rejected-push ERROR line carries method and source as upstream's."""
    def fields(log):
        for line in log:
            m = LOG_LINE.search(line)
            if m:
                return m.group(1), re.sub(r":\d+$", ":PORT", m.group(2))
        return None
    a, b = fields(ours.log), fields(theirs.log)
    if a is None or b is None:
        return [f"no rejected-push log line (pushgate {a}, upstream {b})"]
    return [] if a == b else [f"log fields {a} != upstream {b}"]


# Pushes replayed into upstream before its persistence file is imported (issue 17).
MIGRATION_PUSHES = [
    ("PUT", "/metrics/job/m/instance/i", text('# HELP mc A counter.\n# TYPE mc counter\n'
                                                'mc{code="200"} 7\n# TYPE ms summary\n'
                                                'ms{quantile="0.5"} 1\nms_sum 3\nms_count 2\n'
                                                '# TYPE mh histogram\nmh_bucket{le="1"} 1\n'
                                                'mh_bucket{le="+Inf"} 2\nmh_sum 3\nmh_count 2\n')),
    ("PUT", "/metrics/job@base64/YmF0Y2gvbmlnaHRseQ/region@base64/WsO8cmljaCDinJM/e@base64/=",
     text("# HELP mu Unicode help \u00fc.\n# TYPE mu gauge\nmu 1.5\n")),
    ("POST", "/metrics/job/m/instance/i", text("# TYPE mc gauge\nmc 1\n")),  # rejected: failure time
    ("PUT", "/metrics/job/pb", V1, PROTOBUF),
    ("PUT", "/metrics/job/only_failed", text("# TYPE mu counter\nmu 1\n")),  # rejected
]


def raw_exposition(body):
    """Exposition lines without own metrics, push times kept exactly."""
    lines = []
    for line in body.decode("utf-8", "replace").splitlines():
        name = line.split(" ", 3)[2] if line.startswith("#") and len(line.split(" ")) > 2 else \
            re.match(r"[^{ ]*", line).group(0)
        if not name.startswith(OWN_PREFIXES):
            lines.append(line)
    return lines


def compare_migration(pushgate_bin, upstream_bin, verbose):
    """Issue 17: pushgate started on upstream's persistence file serves what upstream serves
    after a restart on the same file, push and failure times included. Returns failures."""
    import os
    import shutil
    import tempfile
    fails = []
    with tempfile.TemporaryDirectory(prefix="pushgate-migrate-") as tmp:
        original = os.path.join(tmp, "upstream.db")
        flags = [f"--persistence.file={original}", "--persistence.interval=1s"]
        with gwlib.Gateway(upstream_bin, "upstream-writer", flags, echo=verbose) as writer:
            for method, path, body, *hdrs in MIGRATION_PUSHES:
                writer.request(method, path, body, hdrs[0] if hdrs else None,
                               timeout=REQUEST_TIMEOUT_S)
        if not os.path.exists(original):
            return ["upstream wrote no persistence file"]
        ours_file, theirs_file = os.path.join(tmp, "pushgate.db"), os.path.join(tmp, "again.db")
        shutil.copy(original, ours_file)
        shutil.copy(original, theirs_file)
        with open(original, "rb") as f:
            original_bytes = f.read()
        with gwlib.Gateway(pushgate_bin, "pushgate", [f"--persistence.file={ours_file}"],
                           echo=verbose) as ours, \
                gwlib.Gateway(upstream_bin, "upstream", [f"--persistence.file={theirs_file}"],
                              echo=verbose) as theirs:
            a = raw_exposition(request(ours, "GET", "/metrics")[2])
            b = raw_exposition(request(theirs, "GET", "/metrics")[2])
            imported = any("imported upstream persistence file" in l for l in ours.log)
        # §16 #8: float histogram counts (V1's histogram_metric) differ on purpose.
        skip = re.compile(r'^histogram_metric_(bucket|count)\{')
        a2 = [l for l in a if not skip.match(l)]
        b2 = [l for l in b if not skip.match(l)]
        if a2 != b2:
            fails += [f"scrape only in pushgate:  {l}" for l in a2 if l not in b2][:8]
            fails += [f"scrape only in upstream:  {l}" for l in b2 if l not in a2][:8]
            if not fails:
                fails.append("scrape: same lines, different order")
        if not imported:
            fails.append("pushgate logged no 'imported upstream persistence file'")
        kept = ours_file + ".upstream"
        if not os.path.exists(kept) or open(kept, "rb").read() != original_bytes:
            fails.append(f"{kept} is missing or differs from upstream's file")
        groups = sum(1 for l in a if l.startswith("push_time_seconds{"))
        print(f"migration: {groups} groups, {len(a)} exposition lines compared")
    return fails


def chunked_put(gateway, path, body):
    """A chunked PUT as curl sends one with -H 'Transfer-Encoding: chunked'; returns the status."""
    import socket
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=REQUEST_TIMEOUT_S) as sock:
        head = (f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
                "User-Agent: curl/7.88.1\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n")
        sock.sendall(head.encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def own_sample(gateway, prefix):
    """The first own-metric line of a scrape starting with prefix, or None."""
    _, _, body = request(gateway, "GET", "/metrics")
    return next((l for l in body.decode("utf-8", "replace").splitlines() if l.startswith(prefix)),
                None)


def compare_misc(pushgate_bin, upstream_bin, verbose):
    """Issue 17: push size of a chunked request, build-info label names, accepted flags.
    Returns a list of (check name, failures, expected-difference note or None)."""
    import subprocess
    results = []
    with gwlib.Gateway(pushgate_bin, "pushgate", echo=verbose) as ours, \
            gwlib.Gateway(upstream_bin, "upstream", echo=verbose) as theirs:
        sizes = []
        for gw in (ours, theirs):
            status = chunked_put(gw, "/metrics/job/sizecheck", b"m 1\n")
            line = own_sample(gw, 'pushgateway_http_push_size_bytes_sum{method="put"}')
            # The Host value is counted: take out its length, ports may differ in digits.
            size = float(line.rsplit(" ", 1)[1]) - len(f"127.0.0.1:{gw.port}") if line else None
            sizes.append((status, size))
        fails = [] if sizes[0] == sizes[1] else [f"(status, size - host) {sizes[0]} != upstream {sizes[1]}"]
        results.append(("push size of a chunked PUT", fails, None))
        names = []
        for gw in (ours, theirs):
            line = own_sample(gw, "pushgateway_build_info{") or ""
            names.append(sorted(re.findall(r'([a-z_]+)="', line)))
        # `tags` appeared in upstream 1.6; 1.5.1 lacks it.
        fails = [] if [n for n in names[0] if n != "tags"] == names[1] else [
            f"labels {names[0]} != upstream {names[1]}"]
        results.append(("pushgateway_build_info label names", fails,
                        "tags label as upstream 1.6+" if "tags" in names[0] else None))
    for args in (["--help-long"], ["--help-man"],
                 ["--web.local-assets=/usr/share/prometheus/pushgateway", "--version"]):
        runs = []
        for binary in (pushgate_bin, upstream_bin):
            done = subprocess.run([binary, *args], capture_output=True, timeout=10)
            runs.append((done.returncode, bool(done.stdout or done.stderr)))
        out = subprocess.run([pushgate_bin, *args], capture_output=True, timeout=10)
        fails = [] if runs[0] == runs[1] == (0, True) else [f"(exit, printed) {runs[0]} != upstream {runs[1]}"]
        if out.stderr or not out.stdout:
            fails.append("pushgate must print to stdout only")
        results.append((f"flags {' '.join(args)}", fails,
                        "stdout as upstream 1.9+ (1.5.1 prints to stderr)"))
    return results


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushgate", default=gwlib.default_pushgate(),
                        help="pushgate binary (default: newest of target/release, target/debug)")
    parser.add_argument("--upstream", default=gwlib.upstream_binary(),
                        help="upstream binary (default: prometheus-pushgateway on PATH)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print both error bodies and the gateways' logs")
    return parser.parse_args()


def main():
    args = parse_args()
    gwlib.exit_on_sigterm()
    if not args.upstream:
        print(f"SKIP: {gwlib.UPSTREAM_NAME} is not installed; nothing to compare against.")
        return 0
    if not args.pushgate:
        print("error: no pushgate binary; run `cargo build` or pass --pushgate BIN", file=sys.stderr)
        return 2
    self_test = gwlib.is_upstream(args.pushgate)
    print(f"pushgate: {args.pushgate}" + ("  (upstream binary: self-test mode)" if self_test else ""))
    print(f"upstream: {args.upstream}")
    try:
        with gwlib.Gateway(args.pushgate, "pushgate", echo=args.verbose) as ours, \
                gwlib.Gateway(args.upstream, "upstream", echo=args.verbose) as theirs:
            passed, failed, expected = compare(ours, theirs, self_test, args.verbose)
            notes = log_differences(ours, theirs)
            print(f"{'DIFF' if notes else 'ok':5s}     log fields of a rejected push")
            for note in notes:
                print(f"        {note}")
            passed, failed = passed + (not notes), failed + bool(notes)
        p, f, x = compare_unchecked(args.pushgate, args.upstream, self_test, args.verbose)
        passed, failed, expected = passed + p, failed + f, expected + x
        if not self_test:
            for name, notes, xdiff in compare_misc(args.pushgate, args.upstream, args.verbose):
                verdict = "DIFF" if notes else ("XDIFF" if xdiff else "ok")
                print(f"{verdict:5s}     {name}")
                for note in notes + ([f"as expected: {xdiff}"] if xdiff and not notes else []):
                    print(f"        {note}")
                passed += verdict == "ok"
                failed += verdict == "DIFF"
                expected += verdict == "XDIFF"
            notes = compare_migration(args.pushgate, args.upstream, args.verbose)
            print(f"{'DIFF' if notes else 'ok':5s}     import of upstream's persistence file")
            for note in notes:
                print(f"        {note}")
            passed, failed = passed + (not notes), failed + bool(notes)
    except (RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{passed} passed, {failed} failed, {expected} expected differences")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
