"""A small multi-threaded pipeline to profile (runs about one second).

A producer thread "acquires" frames (synthetic images, with a little simulated I/O wait) and puts
them on a queue; a dispatcher hands each frame to a pool of worker threads that denoise it,
find bright spots by recursive quadtree subdivision, sort them with a recursive merge sort and
wait for a (simulated) device;
a writer thread collects the results (it renames itself when it starts flushing), and the main
thread waits and prints a summary.

    python examples/threads_demo.py                 # just run it
    fprofile run -o demo.fpt examples/threads_demo.py   # record every call of this file, per thread
"""
from __future__ import annotations

import math
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

SIZE = 64            # frames are SIZE x SIZE
FRAMES = 84
WORKERS = 3
THRESHOLD = 0.9


@dataclass
class Frame:
    index: int
    pixels: List[List[float]]


@dataclass
class Result:
    index: int
    spots: List[Tuple[int, int, float]] = field(default_factory=list)
    mean: float = 0.0


def acquire(index: int, rng: random.Random) -> Frame:
    """Simulates a camera read: some I/O wait, then a noisy frame with a few bright spots."""
    time.sleep(0.004)
    pixels = [[rng.random() * 0.5 for _ in range(SIZE)] for _ in range(SIZE)]
    for _ in range(rng.randint(20, 40)):
        y, x = rng.randrange(1, SIZE - 1), rng.randrange(1, SIZE - 1)
        pixels[y][x] = 1.0 + rng.random()
    return Frame(index, pixels)


def producer(out: "queue.Queue[Optional[Frame]]", frames: int) -> None:
    rng = random.Random(1234)
    for i in range(frames):
        out.put(acquire(i, rng))
    out.put(None)


def denoise(pixels: List[List[float]]) -> List[List[float]]:
    """3-tap horizontal smoothing, row by row."""
    return [smooth_row(row) for row in pixels]


def smooth_row(row: List[float]) -> List[float]:
    n = len(row)
    return [(row[max(i - 1, 0)] + 2 * row[i] + row[min(i + 1, n - 1)]) / 4 for i in range(n)]


def find_spots(pixels, y0: int, x0: int, size: int, found: List[Tuple[int, int, float]]) -> None:
    """Quadtree: subdivide regions whose maximum is above the threshold (recursive)."""
    peak = region_max(pixels, y0, x0, size)
    if peak < THRESHOLD / 2:
        return
    if size <= 3:
        for y in range(y0, y0 + size):
            for x in range(x0, x0 + size):
                if pixels[y][x] >= THRESHOLD / 2:
                    found.append((y, x, pixels[y][x]))
        return
    half = size // 2
    for dy, dx in ((0, 0), (0, half), (half, 0), (half, half)):
        find_spots(pixels, y0 + dy, x0 + dx, size - half if dy or dx else half, found)


def region_max(pixels, y0: int, x0: int, size: int) -> float:
    return max(max(pixels[y][x0:x0 + size]) for y in range(y0, min(y0 + size, len(pixels))))


def merge_sort(items: list) -> list:
    if len(items) <= 1:
        return items
    mid = len(items) // 2
    return merge(merge_sort(items[:mid]), merge_sort(items[mid:]))


def merge(a: list, b: list) -> list:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i][2] >= b[j][2]:
            out.append(a[i]); i += 1
        else:
            out.append(b[j]); j += 1
    return out + a[i:] + b[j:]


def process(frame: Frame) -> Result:
    pixels = denoise(frame.pixels)
    spots: List[Tuple[int, int, float]] = []
    find_spots(pixels, 0, 0, SIZE, spots)
    mean = sum(map(sum, pixels)) / (SIZE * SIZE)
    calibrate(frame.index)
    return Result(frame.index, merge_sort(spots), mean)


def calibrate(index: int) -> None:
    """Simulates waiting for a device (the GIL is released: other workers run meanwhile)."""
    time.sleep(0.02 if index % 4 else 0.05)


def writer(results: "queue.Queue[Optional[Result]]", summary: dict) -> None:
    kept: List[Result] = []
    while True:
        r = results.get()
        if r is None:
            break
        kept.append(r)
    threading.current_thread().name = "writer (flushing)"
    time.sleep(0.02)  # simulated disk write
    summary["frames"] = len(kept)
    summary["spots"] = sum(len(r.spots) for r in kept)
    summary["mean"] = math.fsum(r.mean for r in kept) / max(len(kept), 1)


def run(frames: int = FRAMES) -> dict:
    frames_q: "queue.Queue[Optional[Frame]]" = queue.Queue(maxsize=4)
    results_q: "queue.Queue[Optional[Result]]" = queue.Queue()
    summary: dict = {}
    prod = threading.Thread(target=producer, args=(frames_q, frames), name="producer")
    wr = threading.Thread(target=writer, args=(results_q, summary), name="writer")
    prod.start()
    wr.start()
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="worker") as pool:
        pending = []
        while True:
            frame = frames_q.get()
            if frame is None:
                break
            pending.append(pool.submit(process, frame))
        for fut in pending:
            results_q.put(fut.result())
    results_q.put(None)
    prod.join()
    wr.join()
    return summary


def main() -> None:
    t0 = time.perf_counter()
    summary = run()
    dt = time.perf_counter() - t0
    print(f"{summary['frames']} frames, {summary['spots']} spots, mean {summary['mean']:.4f} "
          f"in {dt:.2f} s")


if __name__ == "__main__":
    main()
