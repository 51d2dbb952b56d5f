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

startExportPage();
