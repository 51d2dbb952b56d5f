// hosts/export.js: the self-contained HTML export (rust/core/src/formats/html.rs). The trace is
// in the page as base64 (`script#fprofile-data`, type application/octet-stream) and the summary as
// JSON (`script#fprofile-summary`): nothing is fetched, so the file works from disk with no network.

import { createTimeline } from "../timeline.js";

function base64ToBytes(text) {
  const bin = atob(text.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function startExportPage() {
  const app = document.getElementById("fprofile-app");
  const status = document.querySelector(".fprofile-page-status");
  const timeline = createTimeline(app, { theme: "auto", height: Math.max(300, Math.round(window.innerHeight * 0.5)) });
  let bytes;
  let summary = null;
  const pyramid = document.getElementById("fprofile-pyramid");
  if (pyramid) {
    showPyramid(timeline, pyramid, status);
    return;
  }
  try {
    bytes = base64ToBytes(document.getElementById("fprofile-data").textContent || "");
    const s = document.getElementById("fprofile-summary");
    summary = s ? JSON.parse(s.textContent || "null") : null;
  } catch (e) {
    timeline.showError(`This HTML export is damaged: ${e && e.message ? e.message : e}`);
    return;
  }
  timeline.setData(bytes, summary).then((ok) => {
    if (status && ok) status.textContent = timeline.describe();
  });
}

/**
 * A trace too large to embed whole: its skeleton and a pyramid of window replies
 * (rust/core/src/formats/html.rs `pyramid`), the first the whole run, drawn as the view asks.
 */
function showPyramid(timeline, el, status) {
  let p;
  let summary = null;
  try {
    p = JSON.parse(el.textContent || "null");
    const s = document.getElementById("fprofile-summary");
    summary = s ? JSON.parse(s.textContent || "null") : null;
  } catch (e) {
    timeline.showError(`This HTML export is damaged: ${e && e.message ? e.message : e}`);
    return;
  }
  const tiles = p.tiles.map(([t0, t1, px, b64]) => [t0, t1, px, base64ToBytes(b64)]);
  timeline.setWindowedData({
    skeleton: base64ToBytes(p.skeleton), overview: tiles[0][3], tiles: tiles.slice(1), calls: p.calls, summary,
    request: null, offline: p.note,
  }).then((handle) => {
    if (status && handle) status.textContent = timeline.describe();
  });
}

startExportPage();
