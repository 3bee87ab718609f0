"""scripts/lib/checks.py: what the Python check scripts share (test/python-client.py,
test/e2e-peers-check.py, test/shards.py): a pass/fail counter that prints one line per check and
the closing `N passed, M failed` line, and the exposition label pattern."""

import re

# The two gauges every group carries; not part of what a client pushed.
MANAGED_GAUGES = ("push_time_seconds", "push_failure_time_seconds")
# One `name="value"` pair of a text exposition line (escapes kept).
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL  {name}", flush=True)
            for line in str(detail).splitlines()[:40]:
                print(f"        {line}")
        return ok

    def summary(self):
        """Prints the closing line; returns the exit status (1 if any check failed)."""
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0
