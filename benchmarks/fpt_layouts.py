"""How the `.fpt` call columns were chosen (docs/format.md, "Why this shape"): bytes per call of
candidate layouts of a thread's calls, zlib-compressed, and the order-0 entropy of the symbols.

It reads files in the layout before the change (version 2 as of commit 86fa025: columns code, depth
delta, start delta, duration), which is what it compares against; make them with a build of that
commit, e.g. ``git worktree add /tmp/old 86fa025``, install it in a venv, and there::

    python benchmarks/bench_widget.py ... # or: bench_widget.synthetic_trace(1_000_000).to_bytes()

then ``python benchmarks/fpt_layouts.py worst.fpt recording.fpt`` (needs numpy). Results:
``benchmarks/results/fpt_layouts.md``.
"""

from __future__ import annotations

import sys
import zlib

import numpy as np


def parse(path):
    b = open(path, "rb").read()
    assert b[:4] == b"FPRF"
    body = zlib.decompress(b[16:])
    pos = 0

    def u():
        nonlocal pos
        v = 0
        sh = 0
        while True:
            x = body[pos]
            pos += 1
            v |= (x & 0x7F) << sh
            if x < 0x80:
                return v
            sh += 7

    def s():
        x = u()
        return (x >> 1) ^ -(x & 1)

    def st():
        nonlocal pos
        n = u()
        pos += n

    u()
    for _ in range(u()):
        st()
    for _ in range(u()):
        u()
        u()
        u()
    for _ in range(u()):
        u()
        u()
        u()
        u()
        s()
        u()
        f = u()
        if f & 2:
            s()
        s()
        u()
    threads = []
    for _ in range(u()):
        u()
        u()
        u()
        first = s()
        u()
        for _ in range(u()):
            u()
            u()
        n = u()
        code = [u() for _ in range(n)]
        dd = [s() for _ in range(n)]
        sd = [u() for _ in range(n)]
        du = [u() for _ in range(n)]
        for _ in range(u()):
            u()
            u()
        depth = np.cumsum(dd) - 1
        start = first + np.cumsum(sd)
        end = start + np.array(du)
        threads.append(
            dict(first=first, code=np.array(code), depth=depth, start=start, end=end, dd=np.array(dd), sd=np.array(sd), du=np.array(du))
        )
    return threads


def varints(a):
    out = bytearray()
    for v in a.tolist():
        v = int(v)
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


def zz(a):
    a = np.asarray(a, dtype=np.int64)
    return (a << 1) ^ (a >> 63)


def events(t):  # noqa: D103
    """pops per call, entry gaps per call, exit gaps in event order"""
    depth = t["depth"].tolist()
    start = t["start"].tolist()
    end = t["end"].tolist()
    stack = []
    T = t["first"]
    pops = []
    eg = []
    xg = []
    neg = 0
    for i in range(len(depth)):
        k = len(stack) - depth[i]
        pops.append(k)
        for _ in range(k):
            c = stack.pop()
            xg.append(end[c] - T)
            T = end[c]
        g = start[i] - T
        if g < 0:
            neg += 1
        eg.append(g)
        T = start[i]
        stack.append(i)
    while stack:
        c = stack.pop()
        xg.append(end[c] - T)
        T = end[c]
    return np.array(pops), np.array(eg), np.array(xg), neg


def planes(a, width):
    a = np.asarray(a, dtype=np.uint64)
    return b"".join(((a >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.uint8).tobytes() for k in range(width))


def leb_planes(a):
    """varint bytes split: first byte of each value, then the rest"""
    first = bytearray()
    rest = bytearray()
    for v in a.tolist():
        v = int(v)
        fb = True
        while True:
            x = v & 0x7F
            v >>= 7
            if v:
                x |= 0x80
            (first if fb else rest).append(x)
            fb = False
            if not v:
                break
    return bytes(first) + bytes(rest)


def z(b, lvl=6, strat=zlib.Z_DEFAULT_STRATEGY):
    c = zlib.compressobj(lvl, zlib.DEFLATED, 15, 9, strat)
    return len(c.compress(b) + c.flush())


def merged_events(t):
    """pops per call and the gaps of all events (entries and exits) in event order."""
    depth = t["depth"].tolist()
    start = t["start"].tolist()
    end = t["end"].tolist()
    stack = []
    T = t["first"]
    pops = []
    g = []
    for i in range(len(depth)):
        k = len(stack) - depth[i]
        pops.append(k)
        for _ in range(k):
            c = stack.pop()
            g.append(end[c] - T)
            T = end[c]
        g.append(start[i] - T)
        T = start[i]
        stack.append(i)
    while stack:
        c = stack.pop()
        g.append(end[c] - T)
        T = end[c]
    return np.array(pops), np.array(g)


def entropy_bits(a):
    _, c = np.unique(a, return_counts=True)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum() * len(a))


def run(path):
    ths = parse(path)
    n = sum(len(t["code"]) for t in ths)
    layouts = {
        "before: code, depth delta, start delta, duration (varints)": [],
        "code, pops, entry gaps, exit gaps (varints)": [],
        "code, pops, entry gaps, exit gaps (gaps in two planes)": [],
        "code, pops, entry gaps, exit gaps (gaps as u16 byte planes, capped: lower bound)": [],
        "code, pops, entry gaps, exit gaps (gaps as u32 byte planes)": [],
        "chosen: code, pops, all gaps in event order (two planes)": [],
    }
    L = list(layouts.values())
    ent = {"code": 0.0, "pops": 0.0, "entry gaps": 0.0, "exit gaps": 0.0}
    for t in ths:
        pops, eg, xg, _ = events(t)
        L[0] += [varints(t["code"]), varints(zz(t["dd"])), varints(t["sd"]), varints(t["du"])]
        L[1] += [varints(t["code"]), varints(pops), varints(eg), varints(xg)]
        L[2] += [varints(t["code"]), varints(pops), leb_planes(eg), leb_planes(xg)]
        L[3] += [varints(t["code"]), varints(pops), planes(np.minimum(eg, 65535), 2), planes(np.minimum(xg, 65535), 2)]
        L[4] += [varints(t["code"]), varints(pops), planes(eg, 4), planes(xg, 4)]
        mp, g = merged_events(t)
        L[5] += [varints(t["code"]), varints(mp), leb_planes(g)]
        ent["code"] += entropy_bits(t["code"])
        ent["pops"] += entropy_bits(pops)
        ent["entry gaps"] += entropy_bits(eg)
        ent["exit gaps"] += entropy_bits(xg)
    print(f"## {path}: {n:,} calls\n")
    print("| layout of the calls | zlib 6 | zlib 9 | zlib 9 filtered | zlib 9 Huffman only | raw |")
    print("|---|---|---|---|---|---|")
    for name, parts in layouts.items():
        body = b"".join(parts)
        print(
            f"| {name} | {z(body) / n:.3f} | {z(body, 9) / n:.3f} | {z(body, 9, zlib.Z_FILTERED) / n:.3f} | "
            f"{z(body, 9, zlib.Z_HUFFMAN_ONLY) / n:.3f} | {len(body) / n:.3f} |"
        )
    print(
        "\nOrder-0 entropy, bits per call: "
        + ", ".join(f"{k} {v / n:.2f}" for k, v in ent.items())
        + f"; total {sum(ent.values()) / n / 8:.3f} bytes per call.\n"
    )


if __name__ == "__main__":
    for p in sys.argv[1:]:
        run(p)
