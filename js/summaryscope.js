// summaryscope.js: what the summary table counts. It follows the thread list: with threads (or
// whole processes) hidden, the page's summary is computed over the calls of the shown threads
// (and, with a filter on, the kept ones: layout.js lazySummary with that mask), and the table says
// so ("Shown threads (305 of 310)"). A windowed trace (windowed.js) holds one
// window's calls, so its table keeps the host's rows over every thread, and says that plainly.
// Layer 2: pure (no DOM; layout), tested in node (tests/js/panels.test.mjs).

import { lazySummary } from "./layout.js";
import { withTasks } from "./tasklanes.js";

/** How many threads `visible` (per thread 1 when shown) hides. */
export function hiddenThreads(visible) {
  let n = 0;
  for (let t = 0; t < visible.length; t++) if (!visible[t]) n++;
  return n;
}

/**
 * The calls the summary counts: per call 1 when its thread is shown (`visible`) and, given `kept`
 * (the filters' mask), kept; null when every call counts (nothing hidden, nothing filtered), so
 * the host's rows can be shown as they are. The mask is closed under "parent of" (a whole thread
 * goes or stays), as layout.js computeSummary wants.
 */
export function summaryMask(trace, visible, kept) {
  if (hiddenThreads(visible) === 0) return kept || null;
  const { calls } = trace;
  const mask = new Uint8Array(calls.count);
  for (const th of trace.threads) {
    if (!visible[th.index]) continue;
    for (let i = th.callStart; i < th.callEnd; i++) mask[i] = kept ? kept[i] : 1;
  }
  return mask;
}

/**
 * The words of the table for a scope: `all` (its first choice: every thread counted, or the shown
 * ones of `total`), and `note` (what is not counted, or "" when everything is).
 * scope: { hidden (threads hidden), total (threads), windowed (the table has the host's rows over
 * every thread) }.
 */
export function scopeWords(scope) {
  const { hidden, total, windowed } = scope;
  if (!(hidden > 0)) return { all: "All threads", note: "" };
  if (windowed) {
    return { all: "All threads (hidden ones too)", note: `Counts every thread, the ${hidden} hidden too: this page holds one window of the calls, not all of them` };
  }
  return { all: `Shown threads (${total - hidden} of ${total})`, note: `${hidden} hidden thread${hidden === 1 ? " is" : "s are"} not counted` };
}

/**
 * The table's summary and scope for what `state` (state.js) shows: the host's rows
 * (`hostOverall`, the Rust summary's, or null) while every call counts, else the page's over the
 * shown threads' kept calls (lazySummary: the per-thread rows computed when first shown).
 * `windowed`: the page holds one window's calls, so the per-process and per-thread rows cannot be
 * computed here: the host's overall rows (every call, hidden threads too) alone, the scope saying so.
 * Returns { summary, scope } for table.js setSummary.
 */
export function shownSummary(state, hostOverall, windowed) {
  const { trace, visible } = state;
  const scope = { hidden: hiddenThreads(visible), total: visible.length, windowed, visible };
  if (windowed) return { summary: { overall: hostOverall || [], processes: [], threads: [] }, scope };
  const mask = summaryMask(trace, visible, state.kept);
  // (with the tasks of the trace's bands: the table's task selector, tasklanes.js)
  return { summary: withTasks(lazySummary(trace, mask ? null : hostOverall, mask), trace, state.kept, visible), scope };
}
