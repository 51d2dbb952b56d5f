// The windowed data source (js/windowsource.js): one request in flight, latest wins, stale replies
// dropped, the reply covering a view chosen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createWindowSource, createFlameSource, WINDOW_MARGIN, WINDOW_CACHE } from "../../js/windowsource.js";

/** A source whose requests are recorded; reply(req) makes the reply a host would send. */
function harness() {
  const sent = [];
  const src = createWindowSource((id, t0, t1, px) => sent.push({ id, t0, t1, px }));
  const reply = (req) => ({ t0: req.t0, t1: req.t1, px: req.px, tag: req.id });
  return { src, sent, reply };
}

test("a view is asked for with a margin on each side, at the view's resolution", () => {
  const { src, sent } = harness();
  src.want(1000, 2000, 500);
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0], { id: 1, t0: 1000 - 1000 * WINDOW_MARGIN, t1: 2000 + 1000 * WINDOW_MARGIN, px: Math.round(500 * (1 + 2 * WINDOW_MARGIN)) });
  assert.equal(src.inFlight(), 1);
});

test("one request in flight: views wanted meanwhile collapse into the latest, sent when the reply comes", () => {
  const { src, sent, reply } = harness();
  src.want(0, 1000, 100);
  src.want(100, 900, 100);
  src.want(200, 800, 100);
  src.want(300, 700, 100);
  assert.equal(sent.length, 1, "nothing more is sent while one is in flight");
  assert.equal(src.receive(1, reply(sent[0])), true);
  assert.equal(sent.length, 2, "the reply releases the next request");
  assert.equal(sent[1].t0, 300 - 400 * WINDOW_MARGIN, "only the latest view is asked for");
  assert.equal(sent[1].t1, 700 + 400 * WINDOW_MARGIN);
  assert.equal(src.receive(2, reply(sent[1])), true);
  assert.equal(sent.length, 2, "nothing pending: nothing sent");
});

test("replies to ids not awaited are dropped", () => {
  const { src, sent, reply } = harness();
  src.want(0, 1000, 100);
  assert.equal(src.receive(7, { t0: 0, t1: 1000, px: 100 }), false, "an id never sent");
  assert.equal(src.receive(1, reply(sent[0])), true);
  assert.equal(src.receive(1, reply(sent[0])), false, "the same reply twice");
  src.want(5000, 6000, 100);
  src.fail(2); // the host gave up on request 2 (timeout, error)
  assert.equal(src.receive(2, reply(sent[1])), false, "a late reply to a failed request");
  assert.equal(src.stats.stale, 3);
  assert.equal(src.best(5000, 6000, 100), null, "stale replies are not drawn");
});

test("a sharp cached reply covering the view means no request; a coarser or partial one is drawn until the fresh one comes", () => {
  const { src, sent, reply } = harness();
  const overview = { t0: 0, t1: 1_000_000, px: 1000, tag: "overview" };
  src.setOverview(overview);
  src.want(0, 1_000_000, 1000);
  assert.equal(sent.length, 0, "the overview covers the whole run at its resolution");
  src.want(400_000, 410_000, 1000);
  assert.equal(sent.length, 1);
  assert.equal(src.best(400_000, 410_000, 1000), overview, "before the reply: the overview, stretched");
  src.receive(1, reply(sent[0]));
  assert.equal(src.best(400_000, 410_000, 1000).tag, 1, "the sharp reply once it is there");
  // a small pan inside the margin: covered, nothing sent, the same reply drawn
  src.want(402_000, 412_000, 1000);
  assert.equal(sent.length, 1);
  assert.equal(src.best(402_000, 412_000, 1000).tag, 1);
  // a pan past the margin: asked for; meanwhile a reply covering the whole view is drawn (the
  // overview, stretched) rather than the sharp one that would leave part of the view blank
  src.want(409_000, 419_000, 1000);
  assert.equal(sent.length, 2);
  assert.equal(src.best(409_000, 419_000, 1000), overview);
  // zooming in 10x: the reply is too coarse: asked for, and still drawn until the new one comes
  src.receive(2, reply(sent[1]));
  src.want(410_000, 411_000, 1000);
  assert.equal(sent.length, 3);
  assert.equal(src.best(410_000, 411_000, 1000).tag, 2);
  src.receive(3, reply(sent[2]));
  assert.equal(src.best(410_000, 411_000, 1000).tag, 3);
  // zooming back out: the overview covers it sharply again
  src.want(0, 1_000_000, 1000);
  assert.equal(sent.length, 3);
  assert.equal(src.best(0, 1_000_000, 1000), overview);
});

test("the cache keeps the latest replies only", () => {
  const { src, sent, reply } = harness();
  for (let i = 0; i < WINDOW_CACHE + 3; i++) {
    src.want(i * 1e6, i * 1e6 + 1000, 100);
    src.receive(sent[i].id, reply(sent[i]));
  }
  assert.equal(src.best(0, 1000, 100), null, "the oldest was dropped");
  assert.equal(src.best((WINDOW_CACHE + 2) * 1e6, (WINDOW_CACHE + 2) * 1e6 + 1000, 100).tag, WINDOW_CACHE + 3);
});

test("bad views are ignored", () => {
  const { src, sent } = harness();
  src.want(10, 10, 100);
  src.want(10, 5, 100);
  src.want(0, 10, 0);
  src.want(0, NaN, 100);
  assert.equal(sent.length, 0);
});

// ---- the flame graphs a windowed page asks its host for (createFlameSource) ----------------------

function flameHarness() {
  const sent = [];
  const src = createFlameSource((id, threads, win) => sent.push({ id, threads, win }));
  return { src, sent };
}

test("a flame is asked for once, and what comes back is held for its threads and window", () => {
  const { src, sent } = flameHarness();
  assert.equal(src.want([0, 1], [10, 20]), null);
  assert.equal(src.want([0, 1], [10, 20]), null, "asked again while in flight: nothing more sent");
  assert.deepEqual(sent, [{ id: 1, threads: [0, 1], win: [10, 20] }]);
  assert.equal(src.receive(1, "F1"), true);
  assert.equal(src.want([0, 1], [10, 20]), "F1");
  assert.equal(src.want([0, 1], null), null, "the whole run is another flame");
  assert.deepEqual(sent[1], { id: 2, threads: [0, 1], win: null });
  assert.equal(src.inFlight(), 2);
});

test("one flame request in flight: the latest wanted is sent when it is answered, stale replies dropped", () => {
  const { src, sent } = flameHarness();
  src.want([0], [0, 100]);
  src.want([1], [0, 100]);
  src.want([2], [0, 100]);
  assert.equal(sent.length, 1);
  assert.equal(src.receive(7, "late"), false, "an id never asked for");
  assert.equal(src.stats.stale, 1);
  assert.equal(src.receive(1, "F0"), true);
  assert.deepEqual(sent.map((m) => m.threads), [[0], [2]], "the latest wins: [1] never sent");
  assert.equal(src.receive(1, "F0 again"), false, "no longer awaited");
  assert.equal(src.want([2], [0, 100]), null);
  assert.equal(src.receive(2, "F2"), true);
  assert.equal(src.want([2], [0, 100]), "F2");
  assert.equal(src.want([0], [0, 100]), "F0");
  assert.deepEqual(src.stats, { sent: 2, received: 2, stale: 2, failed: 0 });
});

test("a pending flame already held is not sent; a failed one is not asked again until another is wanted", () => {
  const { src, sent } = flameHarness();
  src.want([0], null);
  src.receive(1, "A");
  src.want([1], null);
  src.want([0], null); // held: replaces the pending wish, nothing to send
  src.receive(2, "B");
  assert.equal(sent.length, 2);
  src.want([3], [5, 9]);
  assert.equal(src.fail(99), false, "not awaited");
  assert.equal(src.fail(3), true);
  assert.equal(src.failed([3], [5, 9]), true);
  assert.equal(src.want([3], [5, 9]), null);
  assert.equal(sent.length, 3, "a redraw does not ask again for what just failed");
  src.want([1], [5, 9]);
  assert.equal(sent.length, 4);
  src.receive(4, "C");
  assert.equal(src.failed([3], [5, 9]), false);
  src.want([3], [5, 9]);
  assert.equal(sent.length, 5, "asked again once another flame came");
});

test("the flames held are bounded", () => {
  const { src } = flameHarness();
  for (let k = 0; k < WINDOW_CACHE + 3; k++) {
    src.want([k], null);
    assert.equal(src.receive(k + 1, `F${k}`), true);
  }
  assert.equal(src.want([WINDOW_CACHE + 2], null), `F${WINDOW_CACHE + 2}`);
  assert.equal(src.want([0], null), null, "the oldest was let go");
});
