// The coordinate spaces of js/viewport.js: time <-> px round trips in the zoomed view and the
// overview, content y <-> zoom y, and the clamping of the window and of the scroll.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Viewport, ZOOM_AXIS_PX, MIN_WINDOW_NS } from "../../js/viewport.js";

/** A viewport 800 px wide over a run of [1000, 1_001_000] ns showing [201_000, 401_000]. */
function sample() {
  const vp = new Viewport(420);
  vp.width = 800;
  vp.setFull(1000, 1_001_000);
  assert.equal(vp.setWindow(201_000, 401_000), true);
  return vp;
}

const close = (a, b, eps, what) => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b}`);

test("zoom space: the window's ends are the canvas' edges, linear in between", () => {
  const vp = sample();
  assert.equal(vp.zoomPxPerNs(), 800 / 200_000);
  assert.equal(vp.nsToZoomX(201_000), 0);
  assert.equal(vp.nsToZoomX(401_000), 800);
  assert.equal(vp.nsToZoomX(301_000), 400);
  assert.equal(vp.zoomXToNs(0), 201_000);
  assert.equal(vp.zoomXToNs(800), 401_000);
  // outside the window: outside the canvas, not clamped
  assert.equal(vp.nsToZoomX(1000), -800);
  assert.equal(vp.zoomXToNs(-400), 101_000);
});

test("overview space: the whole run fills the width, whatever the window", () => {
  const vp = sample();
  assert.equal(vp.overviewPxPerNs(), 800 / 1_000_000);
  assert.equal(vp.nsToOverviewX(1000), 0);
  assert.equal(vp.nsToOverviewX(1_001_000), 800);
  assert.equal(vp.overviewXToNs(400), 501_000);
  // the brush: the window in overview x
  assert.equal(vp.nsToOverviewX(vp.win[0]), 160);
  assert.equal(vp.nsToOverviewX(vp.win[1]), 320);
});

test("round trips time -> px -> time and px -> time -> px, in both spaces, for many windows", () => {
  const vp = new Viewport();
  vp.width = 1234;
  vp.setFull(0, 7_300_000_000); // 7.3 s: trace ns far above the canvas' px
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let n = 0; n < 200; n++) {
    const a = Math.floor(rand() * 7e9);
    const w = Math.max(MIN_WINDOW_NS, Math.floor(rand() ** 4 * 3e8));
    vp.setWindow(a, a + w);
    const k = vp.zoomPxPerNs();
    for (let i = 0; i < 10; i++) {
      const t = Math.floor(vp.win[0] + rand() * (vp.win[1] - vp.win[0]));
      // exact to a few ulps of the times involved, whatever the zoom
      close(vp.zoomXToNs(vp.nsToZoomX(t)), t, 1e-6 * Math.max(1, Math.abs(t)) * 1e-3 + 1e-3, "zoom t");
      const x = rand() * vp.width;
      close(vp.nsToZoomX(vp.zoomXToNs(x)), x, 1e-6 + 1e-9 * k * Math.abs(vp.win[0]), "zoom x");
      close(vp.overviewXToNs(vp.nsToOverviewX(t)), t, 1e-3, "overview t");
      close(vp.nsToOverviewX(vp.overviewXToNs(x)), x, 1e-9, "overview x");
    }
  }
});

test("content y <-> zoom y: under the fixed axis, shifted by the scroll", () => {
  const vp = sample();
  vp.setContentHeight(1000);
  assert.equal(vp.contentYToZoomY(0), ZOOM_AXIS_PX);
  assert.equal(vp.zoomYToContentY(ZOOM_AXIS_PX), 0);
  assert.equal(vp.scrollTo(100), true);
  assert.equal(vp.contentYToZoomY(100), ZOOM_AXIS_PX);
  assert.equal(vp.contentYToZoomY(150), ZOOM_AXIS_PX + 50);
  for (const y of [0, 22, 57.5, 300]) assert.equal(vp.contentYToZoomY(vp.zoomYToContentY(y)), y);
});

test("the zoomed view is as tall as its lanes, between 160 px and the height asked for; the scroll stays in range", () => {
  const vp = new Viewport(420);
  assert.equal(vp.zoomHeight, 220);
  assert.equal(new Viewport(100).maxZoomHeight, 160);
  assert.equal(new Viewport().maxZoomHeight, 420);
  vp.setContentHeight(50);
  assert.equal(vp.zoomHeight, 160);
  assert.equal(vp.maxScrollY(), 0);
  assert.equal(vp.scrollTo(40), false);
  assert.equal(vp.scrollY, 0);
  vp.setContentHeight(300);
  assert.equal(vp.zoomHeight, ZOOM_AXIS_PX + 300 + 12);
  vp.setContentHeight(2000);
  assert.equal(vp.zoomHeight, 420);
  const max = 2000 - (420 - ZOOM_AXIS_PX) + 8;
  assert.equal(vp.maxScrollY(), max);
  assert.equal(vp.scrollTo(-5), false); // clamped to 0: unchanged
  assert.equal(vp.scrollTo(1e9), true);
  assert.equal(vp.scrollY, max);
  // fewer lanes: the scroll comes back into range
  vp.setContentHeight(500);
  assert.equal(vp.scrollY, vp.maxScrollY());
  assert.equal(vp.scrollY, 500 - (420 - ZOOM_AXIS_PX) + 8);
});

test("the window is clamped into the run, at least MIN_WINDOW_NS wide; unchanged windows say so", () => {
  const vp = sample();
  assert.equal(vp.setWindow(201_000, 401_000), false);
  assert.equal(vp.setWindow(-50_000, 50_000), true);
  assert.deepEqual(vp.win, [1000, 101_000]); // moved inside, width kept
  vp.setWindow(950_000, 1_100_000);
  assert.deepEqual(vp.win, [851_000, 1_001_000]);
  vp.setWindow(-1e12, 1e12);
  assert.deepEqual(vp.win, [1000, 1_001_000]); // wider than the run: the whole run
  vp.setWindow(500_000, 500_010);
  assert.equal(vp.win[1] - vp.win[0], MIN_WINDOW_NS); // too narrow: widened around its middle
  assert.equal((vp.win[0] + vp.win[1]) / 2, 500_005);
});

test("a new run unsets the window, so the first setWindow always applies", () => {
  const vp = sample();
  vp.setFull(0, 10_000);
  assert.ok(Number.isNaN(vp.win[0]) && Number.isNaN(vp.win[1]));
  assert.equal(vp.setWindow(0, 10_000), true);
  assert.deepEqual(vp.win, [0, 10_000]);
});

test("moves: zoom around a time (default the middle), pan by px, a call with its margin", () => {
  const vp = sample();
  assert.deepEqual(vp.zoomedWindow(2), [251_000, 351_000]);
  assert.deepEqual(vp.zoomedWindow(2, 201_000), [201_000, 301_000]);
  const [a, b] = vp.zoomedWindow(0.5, vp.zoomXToNs(200));
  assert.equal(b - a, 400_000);
  close(a + (b - a) * (200 / 800), vp.zoomXToNs(200), 1e-6, "the time under the pointer stays put");
  assert.deepEqual(vp.pannedWindow(400), [301_000, 501_000]); // half the width: half the window
  assert.deepEqual(vp.pannedWindow(-80), [181_000, 381_000]);
  assert.deepEqual(vp.windowAround(10_000, 20_000), [9500, 20_500]);
  assert.deepEqual(vp.windowAround(100, 110), [100 - MIN_WINDOW_NS / 2, 110 + MIN_WINDOW_NS / 2]);
});
