// @ts-check
// hosts/fragment.js: the timeline inside a notebook output's text/html, for every host that runs
// an output's scripts but does not know the package's mime type: VS Code, Colab, classic Notebook,
// JupyterLab / Notebook 7 without the extension, nbconvert's HTML, Quarto, Jupyter Book.
//
// python/fprofile_jupyter/_display.py (fragment_html) writes the fragment:
//
//   <div class="fprofile-fragment" data-fprofile-fragment="trace|compare" id="fprofile-<uuid>">
//     <div class="fprofile-static-part">caption, picture, table: what shows where scripts do not run</div>
//     <script type="application/json" class="fprofile-payload">the mime type's payload</script>
//     <script>this file, minified (an IIFE: no global name, no import, no request)</script>
//   </div>
//
// Not a module of the concatenated bundles (js/bundle.json "minified"): esbuild builds it from
// the ES modules into js/dist/fragment.min.js (scripts/build_js.mjs; npm run build). Each output
// carries its own copy and runs it in its own closure, so outputs are independent (Colab puts each
// in its own iframe; VS Code and nbconvert put them side by side in one page). Every script starts
// every fragment of its document not yet started: a host that evaluates scripts away from their
// element (classic Notebook's jQuery runs them in <head>) is covered, and a fragment is never
// started twice. The stylesheet goes once into the document's head (one per stylesheet version).
// Drawing is the widget's own render(), over a read-only model of the payload (js/payload.js),
// as in the JupyterLab extension: the same views, the same theme rules (JupyterLab's and VS Code's
// variables, prefers-color-scheme) and the output's width.
// Nothing here touches storage, cookies or the network: an opaque-origin sandbox is fine.

import widget from "./widget.js";

/* global FPROFILE_CSS, FPROFILE_CSS_ID */
/** @type {string} */
// @ts-ignore - defined by the build (scripts/build_js.mjs): the minified js/timeline.css
const FRAGMENT_CSS = typeof FPROFILE_CSS === "string" ? FPROFILE_CSS : "";
/** @type {string} */
// @ts-ignore - defined by the build: an id naming this version of the stylesheet
const FRAGMENT_CSS_ID = typeof FPROFILE_CSS_ID === "string" ? FPROFILE_CSS_ID : "fprofile-css";

/** @param {Document} doc */
function fragmentStyle(doc) {
  if (!FRAGMENT_CSS || doc.getElementById(FRAGMENT_CSS_ID)) return;
  const style = doc.createElement("style");
  style.id = FRAGMENT_CSS_ID;
  style.textContent = FRAGMENT_CSS;
  (doc.head || doc.documentElement).appendChild(style);
}

/** @param {HTMLElement} el */
function fragmentStartOne(el) {
  el.setAttribute("data-fprofile-started", "");
  const kind = el.getAttribute("data-fprofile-fragment");
  const data = el.querySelector("script.fprofile-payload");
  const staticPart = /** @type {HTMLElement | null} */ (el.querySelector(".fprofile-static-part"));
  let payload = null;
  try {
    payload = JSON.parse((data && data.textContent) || "null");
  } catch (_e) {
    payload = { error: "fprofile: this output's trace is damaged (its data is not JSON)." };
  }
  const view = el.ownerDocument.createElement("div");
  view.className = "fprofile-fragment-view";
  if (kind === "compare") {
    // the differential flame graph above the comparison's table (the table stays: it is the data);
    // a comparison too big to draw has an "error" and no flame: its table alone, as written
    el.insertBefore(view, staticPart);
    widget.renderComparison({ payload, el: view });
    el.setAttribute("data-fprofile-drawn", "");
    return;
  }
  el.appendChild(view);
  // a read-only model (no kernel, no widget manager), as the JupyterLab extension hands it
  widget.render(/** @type {any} */ ({ model: widget.payloadModel(payload), el: view }));
  const p = payload && typeof payload === "object" ? /** @type {any} */ (payload) : {};
  // the timeline replaces the caption, picture and table; a trace too big to embed keeps them
  // (the timeline's place then says why, with the command to open it)
  if (staticPart && (typeof p.fpt === "string" || p.windowed)) staticPart.hidden = true;
  el.setAttribute("data-fprofile-drawn", "");
}

function fragmentStart() {
  const doc = document;
  fragmentStyle(doc);
  const els = doc.querySelectorAll("div[data-fprofile-fragment]:not([data-fprofile-started])");
  for (const el of Array.from(els)) {
    try {
      fragmentStartOne(/** @type {HTMLElement} */ (el));
    } catch (e) {
      // one broken output does not stop the others; it keeps its static part
      const box = doc.createElement("div");
      box.className = "fprofile-error";
      box.textContent = `fprofile: cannot draw this timeline (${e instanceof Error ? e.message : String(e)}).`;
      el.appendChild(box);
    }
  }
}

fragmentStart();
