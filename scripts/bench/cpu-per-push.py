#!/usr/bin/env python3
"""Server CPU per back-to-back PUT at 10,000 groups and on a 10-group store (issue 14).

For each binary given (run them alternately, several times, on a shared machine):
fills a fresh gateway with the steady-state groups of scripts/bench/bench-steady.py,
then times 1,500 PUTs of random groups on one keep-alive connection and reads the
server's CPU time around them (/proc/PID/task/*/schedstat); the same on a fresh
gateway holding 10 groups. Prints CPU per push, the client p50, and their ratios.

    scripts/bench/cpu-per-push.py BIN [BIN ...]
"""

import importlib.util
import os
import random
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, HERE)
_spec = importlib.util.spec_from_file_location("steady", os.path.join(HERE, "bench-steady.py"))
steady = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(steady)
from bench_push import KeepAliveClient, put_request  # noqa: E402

PUSHES = 1500


def measure(binary, groups):
    """(server CPU per push in us, client p50 in us) on a store of `groups` groups."""
    gw = steady.Gw("cpu-per-push", binary)
    with gw.proc:
        steady.GROUPS = groups
        steady.fill(gw)
        rng = random.Random(1)
        client = KeepAliveClient(gw.port)
        try:
            before = steady.cpu_s(gw.pid)
            times = [client.roundtrip(put_request(gw.port, steady.group_path(rng.randrange(groups)),
                                                  steady.body(i)))[1] for i in range(PUSHES)]
            after = steady.cpu_s(gw.pid)
        finally:
            client.close()
    return (after - before) / PUSHES * 1e6, statistics.median(times) * 1e6


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for binary in sys.argv[1:]:
        big_cpu, big_p50 = measure(binary, 10000)
        small_cpu, small_p50 = measure(binary, 10)
        print(f"{binary}: CPU per push {big_cpu:.0f} us at 10k groups, {small_cpu:.0f} us at 10 "
              f"({big_cpu / small_cpu:.2f}x); p50 {big_p50:.0f} us vs {small_p50:.0f} us "
              f"({big_p50 / small_p50:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
