// hosts/viewer.js: the standalone viewer page (python -m fprofile_jupyter.viewProfile, fprofile view).
// A thin host: it fetches the trace the server converted (the FILE argument, or a file the user
// chose or dropped, uploaded to the server and converted there in Rust) and hands the bytes and the
// summary to createTimeline. Endpoints (python/fprofile_jupyter/_viewer.py):
//   GET  api/initial        -> {} | {name, trace, summary} | {name, windowed, summary} | {name, error}
//   POST api/upload         -> {name, trace, summary} | {error}   (body: the file's bytes)
//   GET  api/trace/<id>.fpt and api/trace/<id>.json (the URLs returned above)
// A trace too large to send whole comes as {name, windowed: {skeleton, overview, window, calls},
// summary}: the timeline's windowed mode, its windows fetched from `window?t0=&t1=&px=`.
// A file a recording is still writing comes as {name, live: "api/live", last_s}: the page asks
//   GET  api/live           -> {gen, done, calls, span, quiet_s, waiting?, trace|windowed, summary}
// about once a second and shows each new generation (windowed while the run grows), keeping the
// window the user chose (or the last N seconds, "follow the last"), with a "live" marker, until
// the answer says done (the recording's end chunk arrived: python/fprofile_jupyter/_follow.py).

import { createTimeline } from "../timeline.js";

/** Milliseconds between two questions to the viewer about a file being recorded (api/live: a small JSON
 * answer; the new generation is fetched only when there is one). */
const VIEWER_LIVE_POLL_MS = 250;
/** A live view whose file has not changed for this many seconds says so. */
const VIEWER_LIVE_QUIET_S = 5;

function startViewerPage() {
  const app = document.getElementById("fprofile-app");
  const input = document.getElementById("fprofile-file");
  const fileLabel = document.querySelector(".fprofile-page-file");
  const status = document.querySelector(".fprofile-page-status");
  const dropzone = document.querySelector(".fprofile-dropzone");
  const timeline = createTimeline(app, { theme: "auto", height: Math.max(300, Math.round(window.innerHeight * 0.5)) });
  timeline.root.classList.add("fprofile-viewer");

  const setStatus = (text) => { status.textContent = text; };

  async function show(info) {
    fileLabel.textContent = info.name || "";
    if (info.name) document.title = `${info.name} · fprofile`;
    if (info.error) {
      timeline.showError(info.error);
      setStatus("");
      return;
    }
    setStatus("Loading…");
    if (info.windowed) {
      await showWindowed(info);
      return;
    }
    try {
      const [traceResp, summaryResp] = await Promise.all([fetch(info.trace), fetch(info.summary)]);
      if (!traceResp.ok || !summaryResp.ok) throw new Error(`the server answered ${traceResp.status} / ${summaryResp.status}`);
      const [bytes, summary] = await Promise.all([traceResp.arrayBuffer(), summaryResp.json()]);
      const ok = await timeline.setData(bytes, summary);
      setStatus(ok ? timeline.describe() : "");
    } catch (e) {
      timeline.showError(`Could not load ${info.name || "the trace"}: ${e && e.message ? e.message : e}`);
      setStatus("");
    }
  }

  /** The bytes the server answers `url` with; rejects with its `{"error"}` message otherwise. */
  async function viewerFetchBytes(url) {
    const resp = await fetch(url);
    if (!resp.ok) {
      const why = await resp.json().catch(() => ({ error: `the server answered ${resp.status}` }));
      throw new Error(why.error || `the server answered ${resp.status}`);
    }
    return resp.arrayBuffer();
  }

  /** A trace the server keeps: skeleton and overview first, then the windows the view shows, and
   * the flame graphs asked for. */
  async function showWindowed(info) {
    const w = info.windowed;
    let handle = null;
    const request = (id, t0, t1, px) => {
      viewerFetchBytes(`${w.window}?t0=${Math.round(t0)}&t1=${Math.round(t1)}&px=${Math.round(px)}`)
        .then((bytes) => { if (handle) handle.receive(id, bytes); })
        .catch((e) => { if (handle) handle.fail(id, `A window of the trace could not be fetched: ${e && e.message ? e.message : e}`); });
    };
    const requestFlame = (id, threads, win) => {
      viewerFetchBytes(`${w.flame}?threads=${threads.join(",")}${win ? `&t0=${Math.round(win[0])}&t1=${Math.round(win[1])}` : ""}`)
        .then((bytes) => { if (handle) handle.receiveFlame(id, bytes); })
        .catch((e) => { if (handle) handle.failFlame(id, `The flame graph could not be fetched: ${e && e.message ? e.message : e}`); });
    };
    try {
      const [sk, ov, sm] = await Promise.all([fetch(w.skeleton), fetch(w.overview), fetch(info.summary)]);
      if (!sk.ok || !ov.ok || !sm.ok) throw new Error(`the server answered ${sk.status} / ${ov.status} / ${sm.status}`);
      const [skeleton, overview, summary] = await Promise.all([sk.arrayBuffer(), ov.arrayBuffer(), sm.json()]);
      handle = await timeline.setWindowedData({
        skeleton, overview, calls: w.calls, summary, request, host: "viewer",
        requestFlame: w.flame ? requestFlame : undefined,
        elsewhere: "`fprofile stats FILE` prints the per-thread summary, and in Python trace.callers() and trace.callees() " +
          "give a function's callers and callees",
      });
      setStatus(handle ? timeline.describe() : "");
    } catch (e) {
      timeline.showError(`Could not load ${info.name || "the trace"}: ${e && e.message ? e.message : e}`);
      setStatus("");
    }
  }

  async function upload(file) {
    if (!file) return;
    fileLabel.textContent = file.name;
    setStatus(`Converting ${file.name}…`);
    timeline.showError("");
    let answer;
    try {
      const resp = await fetch("api/upload", {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream", "X-Fprofile-Filename": encodeURIComponent(file.name) },
        body: file,
      });
      answer = await resp.json().catch(() => ({ error: `the server answered ${resp.status} ${resp.statusText}` }));
    } catch (e) {
      answer = { error: `Could not reach the viewer server (${e && e.message ? e.message : e}); is it still running?` };
    }
    await show({ name: file.name, ...answer });
    // the keys (f, s, r, arrows) work at once, without a click on the page first
    timeline.root.focus({ preventScroll: true });
  }

  input.addEventListener("change", () => {
    const f = input.files && input.files[0];
    upload(f).finally(() => { input.value = ""; });
  });

  let dragDepth = 0;
  const hasFiles = (e) => !!e.dataTransfer && Array.from(e.dataTransfer.types || []).includes("Files");
  document.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dragDepth++;
    dropzone.hidden = false;
  });
  document.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) dropzone.hidden = true;
  });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    dragDepth = 0;
    dropzone.hidden = true;
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) upload(f);
  });

  /** Follow a file a recording is writing: each new generation shown, the user's window kept (or the
   * last seconds, when pinned), the marker saying live, quiet or ended. */
  async function followLive(info) {
    const marker = document.querySelector(".fprofile-page-live");
    const pinLabel = document.querySelector(".fprofile-page-pin");
    const pin = document.getElementById("fprofile-pin");
    const pinS = document.getElementById("fprofile-pin-s");
    fileLabel.textContent = info.name || "";
    marker.hidden = false;
    pinLabel.hidden = false;
    if (info.last_s > 0) {
      pin.checked = true;
      pinS.value = String(info.last_s);
    }
    let gen = 0;
    let span = null;
    const pinned = () => pin.checked && Number(pinS.value) > 0;
    const applyPin = () => {
      if (pinned() && span) timeline.setWindow(Math.max(span[0], span[1] - Number(pinS.value) * 1e9), span[1]);
    };
    pin.addEventListener("change", applyPin);
    pinS.addEventListener("change", applyPin);
    const mark = (state, text) => {
      marker.dataset.live = state;
      marker.textContent = text;
      timeline.root.dataset.live = state;
    };
    for (;;) {
      let j = null;
      try {
        const resp = await fetch("api/live");
        if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
        j = await resp.json();
      } catch (e) {
        mark("lost", `● live: the viewer does not answer (${e && e.message ? e.message : e})`);
      }
      if (j && j.gen > gen) {
        const s0 = Number(timeline.root.dataset.windowStartNs);
        const e0 = Number(timeline.root.dataset.windowEndNs);
        const tol = span ? 0.01 * (span[1] - span[0]) : 0;
        const whole = !span || !(e0 > s0) || (s0 <= span[0] + tol && e0 >= span[1] - tol);
        gen = j.gen;
        const kept = timeline.captureView(); // hidden threads, collapsed processes, scroll, selection
        await show({ ...j, name: info.name });
        timeline.restoreView(kept);
        span = j.span;
        if (pinned()) applyPin();
        else if (!whole) timeline.setWindow(s0, e0);
        timeline.root.dataset.liveGen = String(gen);
      }
      if (j && j.done) {
        mark("ended", "recording ended");
        pinLabel.hidden = true;
        return;
      }
      if (j) {
        if (j.gen === 0) mark("waiting", `● live: ${j.waiting || "waiting for the recording"}`);
        else mark("live", `● live${j.quiet_s >= VIEWER_LIVE_QUIET_S ? ` (no new calls for ${Math.round(j.quiet_s)} s)` : ""}`);
      }
      await new Promise((resolve) => setTimeout(resolve, VIEWER_LIVE_POLL_MS));
    }
  }

  fetch("api/initial")
    .then((r) => r.json())
    .then((info) => {
      if (info && info.live) return followLive(info);
      if (info && (info.trace || info.windowed || info.error)) return show(info);
      setStatus("Choose a trace file (.fpt, PYME .json or raw .txt) or drop one on the page.");
      return undefined;
    })
    .catch((e) => timeline.showError(`Could not reach the viewer server: ${e && e.message ? e.message : e}`));
}

startViewerPage();
