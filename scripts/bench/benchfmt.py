"""How the benchmark tables print their figures, shared by bench.py and bench-steady.py.

Not a script of its own; imported (scripts/bench/ is on sys.path when either runs).
Every formatter prints "n/a" for a figure that was not measured (None).
"""


def fmt_us(v):
    """Microseconds, switching to ms from 10 ms."""
    if v is None:
        return "n/a"
    if v >= 100_000:
        return f"{v / 1000:.0f} ms"
    if v >= 10_000:
        return f"{v / 1000:.1f} ms"
    return f"{v:.0f} us"


def fmt_ms(v):
    """Seconds, as ms from 10 ms and as us below."""
    if v is None:
        return "n/a"
    return f"{v * 1000:.1f} ms" if v >= 0.01 else f"{v * 1e6:.0f} us"


def fmt_s(v):
    return "n/a" if v is None else f"{v:.2f} s"


def fmt_rps(v):
    if v is None:
        return "n/a"
    return f"{v:.1f}/s" if v < 100 else f"{v:,.0f}/s"


def fmt_kb(v):
    """KiB (as /proc/PID/status gives them), as MiB."""
    return "n/a" if v is None else f"{v / 1024:.1f} MiB"


def fmt_bytes(v):
    """Bytes, in the largest of B, KiB and MiB that fits."""
    if v is None:
        return "n/a"
    if v >= 1024 * 1024:
        return f"{v / 1024 / 1024:.2f} MiB"
    if v >= 1024:
        return f"{v / 1024:.1f} KiB"
    return f"{v} B"


def fmt_mib(v):
    """Bytes, as MiB always (body sizes, so that rows compare at a glance)."""
    return "n/a" if v is None else f"{v / 1024 / 1024:.2f} MiB"


def fmt_whole_bytes(v):
    """Bytes, whole (per-series figures)."""
    return "n/a" if v is None else f"{v:.0f} B"


def ratio_text(ours, theirs, lower_better=True):
    """How much better or worse `ours` is than `theirs`, or "n/a"."""
    if not ours or not theirs:
        return "n/a"
    if lower_better:
        return f"{theirs / ours:.1f}x better" if theirs >= ours else f"{ours / theirs:.1f}x worse"
    return f"{ours / theirs:.1f}x better" if ours >= theirs else f"{theirs / ours:.1f}x worse"
