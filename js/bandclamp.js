// bandclamp.js: task bands of one thread placed end to end when their times overlap a little.
// A band's times come from the scheduler's estimate of the worker's clock (Dask's), not from our
// clock readings: two consecutive tasks of one thread can seem to overlap by a few ms, which would
// put the second on a band row of its own. One thread runs one task at a time, so such an overlap
// is the estimate's error: the two bands are cut at one instant in the overlap, chosen from the
// thread's own calls (the edge of the outermost call nearest the overlap's middle, so no call of
// the thread is split between the two tasks). Bands that overlap more (one holding most of the
// other: a task run inside another) are left as they are, on rows of their own (lanes.js
// buildBandIndex). Layer 2: pure (no DOM), tested in node (tests/js/lanes.test.mjs).

/** Two bands overlapping by at most this share of the shorter one are consecutive, their overlap an error. */
export const BAND_OVERLAP_MAX_SHARE = 0.5;

/**
 * The outermost calls of thread `t` of a decoded trace as [starts, ends] in start order (the
 * calls of the least depth the thread has; empty arrays when the trace has no calls).
 */
export function outerCalls(trace, t) {
  const calls = trace.calls;
  const th = trace.threads[t];
  const starts = [];
  const ends = [];
  if (!calls || !th || !(th.callEnd > th.callStart)) return [starts, ends];
  let minDepth = Infinity;
  for (let i = th.callStart; i < th.callEnd; i++) minDepth = Math.min(minDepth, calls.depth[i]);
  for (let i = th.callStart; i < th.callEnd; i++) {
    if (calls.depth[i] === minDepth) {
      starts.push(calls.start[i]);
      ends.push(calls.end[i]);
    }
  }
  return [starts, ends];
}

/**
 * Where to cut two bands overlapping over [a, b] (a < b): the overlap's middle, moved to the
 * nearer edge of the outermost call (`outer`: outerCalls) that contains it, when that edge lies in
 * the overlap.
 */
export function bandCut(a, b, outer) {
  const m = (a + b) / 2;
  const [starts, ends] = outer;
  // the last outermost call starting at or before m (they do not overlap one another)
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= m) lo = mid + 1;
    else hi = mid;
  }
  const i = lo - 1;
  if (i < 0 || ends[i] <= m) return m;
  const s = starts[i];
  const e = ends[i];
  const near = m - s <= e - m ? [s, e] : [e, s];
  for (const x of near) if (x >= a && x <= b) return x;
  return m;
}

/**
 * Bands `list` ([{ startNs, endNs }] of one thread, in start order; changed in place): each band
 * that starts before the previous one ends, by at most BAND_OVERLAP_MAX_SHARE of the shorter of
 * the two, and ends after it, is cut from it at bandCut. `outerOf()` gives the thread's outermost
 * calls (asked for once, at the first overlap). Returns how many overlaps were cut.
 */
export function clampBands(list, outerOf) {
  let outer = null;
  let cut = 0;
  for (let i = 1; i < list.length; i++) {
    const p = list[i - 1];
    const b = list[i];
    const over = p.endNs - b.startNs;
    if (!(over > 0) || b.endNs <= p.endNs || b.startNs < p.startNs) continue;
    const shorter = Math.min(p.endNs - p.startNs, b.endNs - b.startNs);
    if (over > BAND_OVERLAP_MAX_SHARE * shorter) continue;
    if (!outer) outer = outerOf();
    const x = bandCut(b.startNs, p.endNs, outer);
    p.endNs = x;
    b.startNs = x;
    cut++;
  }
  return cut;
}
