"""Counts the Dask task bands that overlap another band of the same thread, and the recorded calls
that lie outside their task's band, on a real trace: a Dask bag groupby-apply (shuffle="tasks") on a
LocalCluster of 2 worker processes x 2 threads, recorded with ``profile(dask=client)`` (the trace
of scripts/panel_pictures.py). One thread runs one task at a time: both counts must be 0.

    .venv/bin/python scripts/dask_band_overlaps.py [--runs N]
"""
from __future__ import annotations

import argparse
import sys

from panel_pictures import dask_trace  # the same trace: one recipe


def overlaps(trace) -> tuple:
    """(bands, bands overlapping another band of their thread, the worst overlap in ns, calls of a
    worker thread's task functions outside every band of that thread)."""
    by_thread: dict = {}
    for thread, start, end, _label in trace.bands:
        by_thread.setdefault(thread, []).append((start, end))
    hit, worst = set(), 0
    for thread, spans in by_thread.items():
        spans.sort()
        for i, (_s, e) in enumerate(spans):
            for j in range(i + 1, len(spans)):
                s2, e2 = spans[j]
                if s2 >= e:
                    break
                hit.update({(thread, i), (thread, j)})
                worst = max(worst, min(e, e2) - s2)
    outside = 0
    for thread, spans in by_thread.items():
        for c in trace.calls(thread):
            if c.depth == 0 and not any(s <= c.start_ns and c.end_ns <= e for s, e in spans):
                outside += 1
    return len(trace.bands), len(hit), worst, outside


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    for _ in range(args.runs):
        n, hit, worst, outside = overlaps(dask_trace())
        print(f"{n} bands, {hit} overlap another band of their thread (worst {worst / 1e6:.3f} ms), "
              f"{outside} task calls outside their thread's bands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
