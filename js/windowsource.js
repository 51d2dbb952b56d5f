// windowsource.js: the windowed data source of a timeline whose page does not hold every call
// (a trace above the hosts' threshold): which window to ask the kernel (or the viewer) for, one
// request in flight at a time with only the latest wanted window sent next (latest wins), replies
// to ids no longer awaited dropped, a small cache of replies, and which cached reply covers a view
// best (the page draws it, stretched, until a fresher one arrives: no blank frames). Layer 2 (no
// DOM, no timers of its own: the host's `send` and the timeline's calls drive it).

/** Fetch this much of the view's width more on each side: a pan of up to that needs no request.
 * Measured in JupyterLab on 1M calls: 0.25 gave a 45 ms median round trip, 0.5 (larger replies) 58 ms. */
export const WINDOW_MARGIN = 0.25;
/** Replies kept (the overview is kept apart, for ever). */
export const WINDOW_CACHE = 8;
/** A reply is sharp enough for a view when its pixels per ns are at least this fraction of the view's. */
export const WINDOW_SHARP = 0.9;

/**
 * send(id, t0, t1, px): ask for a window (the host sends it; its reply comes back through
 * receive(id, reply)). Returns { want(t0, t1, widthPx) (the view moved: ask for it unless a
 * cached reply covers it sharply), receive(id, reply) -> boolean (false: stale, dropped), fail(id)
 * (the request failed: the pending view, if any, is asked for), best(t0, t1, widthPx) (the reply
 * to draw, or null), setOverview(reply), add(reply), stats, inFlight() }.
 * A reply: { t0, t1, px, ... } (windowreply.js decodeWindowReply).
 */
export function createWindowSource(send) {
  let nextId = 1;
  let flight = null; // { id, t0, t1, px }: the request awaited
  let pending = null; // [t0, t1, widthPx]: the latest view wanted while one was in flight
  let overview = null;
  const cache = []; // newest last
  const pinned = []; // kept for ever (an HTML export's pyramid tiles): may be undecoded, { t0, t1, px, bytes }
  const stats = { sent: 0, received: 0, stale: 0, failed: 0 };

  const sharpFor = (r, t0, t1, widthPx) => r.px / (r.t1 - r.t0) >= WINDOW_SHARP * widthPx / (t1 - t0);
  const covers = (r, t0, t1) => r.t0 <= t0 && r.t1 >= t1;

  /** The reply to draw for the view [t0, t1] at widthPx: the sharpest one covering it, else the newest overlapping it most, else the overview. */
  function best(t0, t1, widthPx) {
    let pick = null;
    let pickScore = -Infinity;
    const all = [...(overview ? [overview] : []), ...pinned, ...cache];
    all.forEach((r, age) => {
      const overlap = Math.min(r.t1, t1) - Math.max(r.t0, t0);
      if (!(overlap > 0)) return;
      // covering beats not covering; then sharpness (capped at the view's), then newer
      const res = Math.min(1, (r.px / (r.t1 - r.t0)) / (widthPx / (t1 - t0)));
      const score = (covers(r, t0, t1) ? 2 : overlap / (t1 - t0)) + res + age * 1e-6;
      if (score > pickScore) { pick = r; pickScore = score; }
    });
    return pick;
  }

  function covered(t0, t1, widthPx) {
    return cache.some((r) => covers(r, t0, t1) && sharpFor(r, t0, t1, widthPx)) ||
      pinned.some((r) => covers(r, t0, t1) && sharpFor(r, t0, t1, widthPx)) ||
      (overview !== null && covers(overview, t0, t1) && sharpFor(overview, t0, t1, widthPx));
  }

  function sendNow(t0, t1, widthPx) {
    const w = t1 - t0;
    const a = t0 - w * WINDOW_MARGIN;
    const b = t1 + w * WINDOW_MARGIN;
    const px = Math.max(1, Math.min(65536, Math.round(widthPx * (1 + 2 * WINDOW_MARGIN))));
    flight = { id: nextId++, t0: Math.floor(a), t1: Math.ceil(b), px };
    stats.sent++;
    send(flight.id, flight.t0, flight.t1, flight.px);
  }

  return {
    stats,
    inFlight: () => (flight ? flight.id : 0),
    setOverview(r) {
      overview = r;
    },
    /** Keep replies for ever (an HTML export's pyramid): `{ t0, t1, px, ... }`, decoded or not. */
    pin(replies) {
      pinned.push(...replies);
    },
    /** Keep a reply that came another way (a saved notebook's last view). */
    add(r) {
      cache.push(r);
      if (cache.length > WINDOW_CACHE) cache.shift();
    },
    want(t0, t1, widthPx) {
      if (!(t1 > t0) || !(widthPx > 0)) return;
      if (covered(t0, t1, widthPx)) {
        pending = null;
        return;
      }
      if (flight) {
        pending = [t0, t1, widthPx]; // latest wins: replaces any earlier pending view
        return;
      }
      sendNow(t0, t1, widthPx);
    },
    receive(id, reply) {
      if (!flight || id !== flight.id) {
        stats.stale++;
        return false;
      }
      flight = null;
      stats.received++;
      cache.push(reply);
      if (cache.length > WINDOW_CACHE) cache.shift();
      if (pending) {
        const [t0, t1, w] = pending;
        pending = null;
        if (!covered(t0, t1, w)) sendNow(t0, t1, w);
      }
      return true;
    },
    fail(id) {
      if (!flight || id !== flight.id) return;
      flight = null;
      stats.failed++;
      if (pending) {
        const [t0, t1, w] = pending;
        pending = null;
        sendNow(t0, t1, w);
      }
    },
    best,
  };
}

/**
 * The flame graphs a windowed page asks its host for (the host merges every call; the page holds
 * only a window's): one request in flight, the latest wanted flame sent next (latest wins), replies
 * to ids no longer awaited dropped, the last few kept by key. send(id, threads, win) asks for the
 * flame of `threads` (thread indices) over `win` ([t0, t1] in trace ns, or null: the whole run).
 * Returns { want(threads, win) -> the reply held for them (sent for when not), receive(id, reply)
 * -> boolean (false: stale, dropped), fail(id) -> boolean (false: not awaited), failed(threads, win)
 * (that request failed last), inFlight(), stats }. A reply is whatever the host's bytes decode to
 * (flame.js flameFromBytes).
 */
export function createFlameSource(send) {
  let nextId = 1;
  let flight = null; // { id, key }
  let pending = null; // { key, threads, win }: the latest flame wanted while one was in flight
  let failedKey = "";
  const held = new Map(); // key -> reply, oldest first
  const stats = { sent: 0, received: 0, stale: 0, failed: 0 };
  const keyOf = (threads, win) => `${threads.join(",")}|${win ? `${win[0]},${win[1]}` : "all"}`;

  function sendNow(key, threads, win) {
    flight = { id: nextId++, key };
    stats.sent++;
    send(flight.id, threads.slice(), win ? [win[0], win[1]] : null);
  }
  function next() {
    if (!pending) return;
    const p = pending;
    pending = null;
    if (!held.has(p.key)) sendNow(p.key, p.threads, p.win);
  }

  return {
    stats,
    inFlight: () => (flight ? flight.id : 0),
    want(threads, win) {
      const key = keyOf(threads, win);
      const r = held.get(key);
      if (r !== undefined) {
        pending = null;
        return r;
      }
      if (flight) {
        if (flight.key !== key) pending = { key, threads, win };
        else pending = null;
      } else if (key !== failedKey) {
        sendNow(key, threads, win);
      }
      return null;
    },
    receive(id, reply) {
      if (!flight || id !== flight.id) {
        stats.stale++;
        return false;
      }
      const { key } = flight;
      flight = null;
      failedKey = "";
      stats.received++;
      held.delete(key);
      held.set(key, reply);
      if (held.size > WINDOW_CACHE) held.delete(held.keys().next().value);
      next();
      return true;
    },
    fail(id) {
      if (!flight || id !== flight.id) return false;
      failedKey = flight.key; // not asked again until another flame was wanted
      flight = null;
      stats.failed++;
      if (pending && pending.key === failedKey) pending = null;
      next();
      return true;
    },
    failed: (threads, win) => failedKey !== "" && keyOf(threads, win) === failedKey,
  };
}
