"""The one way a Python script in scripts/ starts a gateway and talks to it.

Not a script of its own; imported (scripts/lib/ is put on sys.path). Owns finding
the pushgate binary, starting a gateway (or a peer that logs "Listening on" the
same way, such as Prometheus) on 127.0.0.1:0 and reading the bound port from its
"Listening on" log line within a deadline, stopping it again (also when the script
dies), and a one-shot HTTP request helper. Standard library only (Python 3.11).
"""

import ctypes
import os
import re
import signal
import shutil
import subprocess
import sys
import threading
import http.client

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UPSTREAM_NAME = "prometheus-pushgateway"
STARTUP_DEADLINE_S = 10.0

# Both promslog (pushgate) and go-kit (upstream) print the address actually bound,
# so port 0 works for both: msg="Listening on" address=127.0.0.1:NNNNN
LISTENING_RE = re.compile(r'Listening on.*?address="?(127\.0\.0\.1):(\d+)')


def _die_with_parent():
    """Runs in the child before exec: SIGTERM it if this script dies without cleaning up."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def exit_on_sigterm():
    """Turns SIGTERM into SystemExit so `with Gateway(...)` blocks still stop their child."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def default_pushgate():
    """Returns the newest of target/{release,debug}/pushgate, or None if none is built.

    Newest rather than release-first, so that a stale release build does not shadow
    the debug build just made by `cargo build`.
    """
    built = [os.path.join(REPO_ROOT, "target", profile, "pushgate") for profile in ("release", "debug")]
    built = [path for path in built if os.access(path, os.X_OK)]
    return max(built, key=os.path.getmtime, default=None)


def upstream_binary():
    """Returns the path of upstream's prometheus-pushgateway, or None if not installed."""
    return shutil.which(UPSTREAM_NAME)


def is_upstream(binary):
    """True if `binary --version` identifies itself as upstream's Pushgateway."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "pushgateway, version" in (out.stdout + out.stderr)


class Gateway:
    """One gateway child process listening on 127.0.0.1:<ephemeral port>.

    Use as a context manager; the child is killed and reaped on exit, also when the
    body raises. Its stderr is kept in `self.log` (and echoed when `echo` is set).
    """

    def __init__(self, binary, label, extra_flags=(), echo=False, port=0,
                 deadline=STARTUP_DEADLINE_S):
        self.binary = binary
        self.label = label
        # port: 0 (the default) for an ephemeral one; a fixed port only to restart a
        # gateway where a peer (a proxy, a scrape config) expects it.
        self.flags = [f"--web.listen-address=127.0.0.1:{port}", *extra_flags]
        if is_upstream(binary) and not any(f.startswith("--persistence.file") for f in extra_flags):
            # Upstream has no on-disk default, but be explicit: never touch a file
            # (unless the caller names one; upstream refuses the flag twice).
            self.flags.insert(0, "--persistence.file=")
        self.echo = echo
        self.deadline = deadline
        self.log = []
        self.proc = None
        self.port = None
        self._listening = threading.Event()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, *self.flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._listening.wait(self.deadline) or self.port is None:
            self.stop()
            raise RuntimeError(f"{self.label}: no 'Listening on' log line within "
                               f"{self.deadline:.0f} s; stderr:\n{self.tail(10)}")

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.log.append(line)
            if self.echo:
                print(f"[{self.label}] {line}", end="")
            match = LISTENING_RE.search(line)
            if match and self.port is None:
                self.port = int(match.group(2))
                self._listening.set()
        # The child died (or closed stderr): wake up a waiting start().
        self._listening.set()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            # A gateway with a persistence file writes it on SIGTERM before it exits.
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def tail(self, lines=20):
        """The last lines of the child's stderr, for error messages."""
        return "".join(self.log[-lines:])

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=b"", headers=None, timeout=30):
        """Sends one request on a fresh connection; returns (status, headers, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            # skip_accept_encoding: the gateways must see only the headers we choose.
            conn.putrequest(method, path, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            if method in ("PUT", "POST") or body:
                hdrs.setdefault("Content-Length", str(len(body)))
            for name, value in hdrs.items():
                conn.putheader(name, value)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

