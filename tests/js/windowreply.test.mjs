// Window replies (js/windowreply.js) read back from Rust-written fixtures
// (rust/core/tests/window.rs js_window_fixtures_are_current), composed with the skeleton into a
// trace the views draw, and bad bytes refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { decodeFpt } from "../../js/decode.js";
import { FptError } from "../../js/fptcodec.js";
import { buildIndex, forEachBox } from "../../js/layout.js";
import { decodeWindowReply, composeWindowTrace, replyDepths, ITEM_RUN } from "../../js/windowreply.js";

const fixture = (name) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const expected = JSON.parse(fixture("window.json").toString("utf8"));

for (const [name, file] of [["overview", "window_overview.fpwn"], ["zoom", "window_zoom.fpwn"]]) {
  test(`${name} reply: every item as the Rust encoder wrote it`, async () => {
    const sk = await decodeFpt(fixture("window_skeleton.fpt"));
    const r = await decodeWindowReply(fixture(file), sk.threads.length, sk.codes.count);
    const want = expected[name];
    assert.equal(r.t0, want.t0);
    assert.equal(r.t1, want.t1);
    assert.equal(r.px, want.px);
    assert.equal(r.count, want.items.length);
    let covered = 0;
    want.items.forEach(([thread, depth, start, end, code, count, flags, parent, call], i) => {
      assert.deepEqual(
        [r.thread[i], r.depth[i], r.start[i], r.end[i], r.code[i], r.runs[i], r.flags[i], r.parent[i], r.call[i]],
        [thread, depth, start, end, code, count, flags, parent, call], `item ${i}`);
      covered += r.runs[i];
    });
    assert.equal(covered, want.covered);
  });
}

test("composed trace: thread ranges, depths from the overview, drawn like a trace", async () => {
  const sk = await decodeFpt(fixture("window_skeleton.fpt"));
  assert.equal(sk.calls.count, 0);
  const ov = await decodeWindowReply(fixture("window_overview.fpwn"), sk.threads.length, sk.codes.count);
  const zoom = await decodeWindowReply(fixture("window_zoom.fpwn"), sk.threads.length, sk.codes.count);
  const depths = replyDepths(ov, sk.threads.length);
  const tr = composeWindowTrace(sk, zoom, depths);
  assert.equal(tr.calls.count, zoom.count);
  for (const th of tr.threads) {
    assert.equal(th.maxDepth, depths[th.index]);
    for (let i = th.callStart; i < th.callEnd; i++) assert.equal(tr.calls.thread[i], th.index);
  }
  assert.equal(tr.threads.at(-1).callEnd, zoom.count);
  // drawn through the same level of detail as a whole trace: at the reply's own resolution every
  // call item is a box of its own, every run a box, none merged further
  const ix = buildIndex(tr);
  const k = zoom.px / (zoom.t1 - zoom.t0);
  let boxes = 0;
  let runs = 0;
  for (const rows of ix.threadRows) {
    for (const row of rows) {
      boxes += forEachBox(row, tr.calls.start, tr.calls.end, zoom.t0, zoom.t1, k, 1, (c, _a, _b, count) => {
        if (tr.calls.flags[c] & ITEM_RUN) runs++;
        assert.ok(count === 1 || tr.calls.flags[c] & ITEM_RUN, "only runs (narrower than a pixel) merge further");
      });
    }
  }
  assert.ok(runs > 0, "the zoomed fixture has runs");
  assert.ok(boxes <= zoom.count && boxes >= zoom.count - runs, `${boxes} boxes for ${zoom.count} items`);
});

test("bad replies are refused with an FptError, never a crash", async () => {
  const sk = await decodeFpt(fixture("window_skeleton.fpt"));
  const good = new Uint8Array(fixture("window_overview.fpwn"));
  await assert.rejects(decodeWindowReply(new Uint8Array(4), 3, 60), FptError);
  await assert.rejects(decodeWindowReply(fixture("window_skeleton.fpt"), 3, 60), /no FPWN header/);
  for (const cut of [16, 17, 20, 100, good.length - 1]) {
    const b = good.slice(0, cut);
    new DataView(b.buffer).setUint32(8, cut - 16, true); // a consistent header: the body itself ends early
    await assert.rejects(decodeWindowReply(b, sk.threads.length, sk.codes.count), FptError, `cut at ${cut}`);
  }
  await assert.rejects(decodeWindowReply(good, 1, sk.codes.count), /thread \d+ of item \d+ is not in the trace/);
  await assert.rejects(decodeWindowReply(good, sk.threads.length, 1), /code \d+ of item \d+ is not in the trace/);
});
