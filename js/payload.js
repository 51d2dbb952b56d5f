// @ts-check
// payload.js: a notebook output's trace payload -> the widget's read-only model. One home for the
// payload's format, which python/fprofile_jupyter/_display.py (trace_output) and _windowed.py
// (saved_output) write: {"fpt": "<the .fpt bytes, base64>"}, {"error": "<why not>"} or
// {"windowed": {skeleton, overview, last?, window?, calls, summary, note}}. Read by the JupyterLab
// extension (hosts/lab.js, through the widget bundle) and by the notebook fragment
// (hosts/fragment.js, the output's text/html). Pure: no DOM.

/** @param {string} text */
export function payloadBase64ToBytes(text) {
  const bin = atob(text.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The widget's model interface (hosts/widget.js, TimelineModel) over an output's payload:
 * read-only, nothing to sync (there may be no kernel).
 * @param {unknown} payload
 */
export function payloadModel(payload) {
  /** @type {Record<string, unknown>} */
  const state = { data: new DataView(new ArrayBuffer(0)), summary: "", error: "", height: 0,
                  window_start_ns: null, window_end_ns: null };
  const fields = payload && typeof payload === "object" ? /** @type {any} */ (payload) : {};
  const fpt = fields.fpt;
  const saved = fields.windowed && typeof fields.windowed === "object" ? fields.windowed : null;
  const damaged = (/** @type {unknown} */ e) =>
    `fprofile: this output's trace is damaged (${e instanceof Error ? e.message : String(e)}).`;
  if (saved) {
    // a windowed trace's saved copy (python/fprofile_jupyter/_windowed.py saved_output): the
    // skeleton, the overview and the last window; drawn with no kernel, zooming within them
    try {
      Object.assign(state, {
        windowed: true, offline: String(saved.note || "Zooming needs the kernel."), calls: Number(saved.calls) || 0,
        skeleton: new DataView(payloadBase64ToBytes(saved.skeleton).buffer),
        overview: new DataView(payloadBase64ToBytes(saved.overview).buffer),
        last: typeof saved.last === "string" ? new DataView(payloadBase64ToBytes(saved.last).buffer) : null,
        summary: typeof saved.summary === "string" ? saved.summary : "",
      });
      if (Array.isArray(saved.window)) {
        state.window_start_ns = Number(saved.window[0]);
        state.window_end_ns = Number(saved.window[1]);
      }
    } catch (e) {
      state.error = damaged(e);
    }
  } else if (typeof fields.error === "string" && fields.error) {
    state.error = fields.error; // the trace was too big to put in the notebook: why, with the numbers
  } else if (typeof fpt !== "string" || fpt === "") {
    state.error = "fprofile: this output holds no trace (its \"fpt\" field is missing or empty).";
  } else {
    try {
      state.data = new DataView(payloadBase64ToBytes(fpt).buffer);
    } catch (e) {
      state.error = damaged(e);
    }
  }
  return {
    get: (/** @type {string} */ k) => /** @type {any} */ (state)[k],
    set: (/** @type {string} */ k, /** @type {unknown} */ v) => { state[k] = v; },
    save_changes: () => {},
    on: () => {},
    off: () => {},
    send: () => {},
  };
}
