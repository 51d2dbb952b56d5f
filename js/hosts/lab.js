// hosts/lab.js: the JupyterLab / Notebook 7 extension "fprofile-jupyter" (a prebuilt extension,
// installed with the package into share/jupyter/labextensions/fprofile-jupyter/; written there by
// python/fprofile_jupyter/_labextension.py, which names this file static/remoteEntry.<hash>.js).
//
// It renders the mime type of a displayed trace, application/vnd.fprofile-jupyter.trace+json
// ({"fpt": "<the .fpt bytes, base64>"}, or {"error": "<why not>"}: python/fprofile_jupyter/
// _display.py, trace_output; or {"in": "text/html"}: the payload is in the output's text/html
// fragment, read from there: labPayload), from the output
// alone: no kernel, no widget model, no widget state. So a saved notebook reopens with its
// timelines after a kernel restart, with no kernel, and untrusted (the renderer is "safe": it
// runs nothing from the output; names reach the page as text, as in every host).
// Its rank is above the widget view's (ipywidgets registers that at -10), so JupyterLab and
// Notebook 7 draw this one whether or not the widget's model is alive.
//
// It renders the comparison of two runs too, application/vnd.fprofile-jupyter.compare+json
// (`fprofile_jupyter.compare(a, b)`: _display.py, comparison_output): the differential flame graph
// (js/diffview.js, through the widget bundle's renderComparison) and, under it, the output's
// text/html part (the comparison's sortable table) as JupyterLab renders text/html: as is when the
// output is trusted, through JupyterLab's sanitizer otherwise.
//
// Drawing is the notebook widget's own code: the widget bundle (static/timeline.<hash>.js, the
// same text as TimelineWidget._esm) is imported and its render() is handed a read-only model
// made from the output's payload (its payloadModel, js/payload.js: the same as the output's
// text/html fragment uses, hosts/fragment.js). Ranked first, this renderer is the only one
// JupyterLab runs for the output: the fragment in its text/html is not rendered, so nothing
// draws twice.
//
// This file is a classic script, not a bundled module (it is not in js/bundle.json): JupyterLab
// loads it with a <script> tag as a module-federation container, the protocol of its prebuilt
// extensions: window._JUPYTERLAB[name] = { init(shareScope), get(module) -> Promise<factory> },
// where factory() returns the module whose `default` is the mime extension. Lumino's Widget
// class comes from the share scope JupyterLab passes to init().

/* eslint-disable no-var */
var _JUPYTERLAB;
(function () {
  "use strict";

  const LAB_NAME = "fprofile-jupyter";
  const LAB_MIME = "application/vnd.fprofile-jupyter.trace+json";
  const LAB_COMPARE_MIME = "application/vnd.fprofile-jupyter.compare+json";
  /** Below ipywidgets' -10 (lower ranks win). */
  const LAB_RANK = -20;
  /** Replaced by the content hash of the timeline files when the extension is written. */
  const LAB_ASSET_HASH = "dev";
  const LAB_BASE = new URL(".", (document.currentScript && document.currentScript.src) || document.baseURI);

  /** @type {Record<string, Record<string, {get: () => unknown}>> | null} */
  let labShareScope = null;
  /** @type {Promise<{render: Function}> | null} */
  let labWidgetModule = null;

  function labLoadTimeline() {
    if (!labWidgetModule) {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = new URL(`timeline.${LAB_ASSET_HASH}.css`, LAB_BASE).href;
      document.head.appendChild(css);
      labWidgetModule = import(new URL(`timeline.${LAB_ASSET_HASH}.js`, LAB_BASE).href).then((m) => m.default);
    }
    return labWidgetModule;
  }

  /** @param {string} a @param {string} b */
  function labNewerVersion(a, b) {
    const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
    const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) > (pb[i] || 0);
    }
    return false;
  }

  /** A package JupyterLab shares with its extensions: the copy already loaded (the
   * application's own), else the newest offered. */
  async function labShared(name) {
    const versions = labShareScope && labShareScope[name];
    if (!versions || Object.keys(versions).length === 0) {
      throw new Error(`${LAB_NAME}: JupyterLab does not share ${name}`);
    }
    const all = Object.keys(versions);
    const loaded = all.filter((v) => /** @type {any} */ (versions[v]).loaded);
    let best = "";
    for (const v of loaded.length ? loaded : all) if (!best || labNewerVersion(v, best)) best = v;
    const factory = await versions[best].get();
    return typeof factory === "function" ? factory() : factory;
  }

  /**
   * The payload of an output's mime type `mime`. When the output's text/html is the fragment that
   * holds it (python/fprofile_jupyter/_display.py: the mime type's data is then {"in": "text/html"},
   * so the saved notebook keeps one copy of the trace), it is read from the fragment's
   * script.fprofile-payload, parsed as data (DOMParser runs no script).
   * @param {any} data the output's mime bundle @param {string} mime
   */
  function labPayload(data, mime) {
    const p = data[mime];
    if (!(p && typeof p === "object" && p.in === "text/html")) return p;
    try {
      const doc = new DOMParser().parseFromString(String(data["text/html"] || ""), "text/html");
      const el = doc.querySelector("div[data-fprofile-fragment] > script.fprofile-payload");
      if (!el) throw new Error("its text/html holds no payload");
      return JSON.parse(el.textContent || "null");
    } catch (e) {
      return { error: `fprofile: this output's trace is damaged (${e && e.message ? e.message : e}).` };
    }
  }

  /** An output's text/html as a table to show: a fragment's static part, else the whole. */
  function labStaticHtml(html) {
    if (typeof html !== "string" || html.indexOf("data-fprofile-fragment") < 0) return html;
    const doc = new DOMParser().parseFromString(html, "text/html");
    const part = doc.querySelector("div[data-fprofile-fragment] > .fprofile-static-part");
    return part ? part.innerHTML : "";
  }

  function labExtension(Widget) {
    /** What both renderers share: the widget bundle loaded, the previous drawing cleaned up. */
    class FprofileRenderer extends Widget {
      constructor(options) {
        super();
        this.mimeType = options.mimeType;
        this.addClass("fprofile-lab-output");
        /** @type {null | (() => void)} */
        this._cleanup = null;
      }

      async renderModel(model) {
        if (this._cleanup) this._cleanup();
        this._cleanup = null;
        const widget = await labLoadTimeline();
        if (this.isDisposed) return;
        this.draw(widget, model);
      }

      dispose() {
        if (this._cleanup) this._cleanup();
        this._cleanup = null;
        super.dispose();
      }
    }
    class FprofileTraceRenderer extends FprofileRenderer {
      draw(widget, model) {
        const el = document.createElement("div");
        this.node.replaceChildren(el);
        const payload = labPayload(model.data, this.mimeType);
        this._cleanup = widget.render({ model: widget.payloadModel(payload), el });
        // the saved copy of a live windowed widget: hidden while that widget is shown in the cell
        const id = payload && payload.windowed && payload.windowed.id;
        if (typeof id === "string" && id) {
          const cell = this.node.closest(".jp-Cell") || this.node.parentElement;
          const sync = () => {
            const live = cell && cell.querySelector(`.fprofile-root[data-windowed="live"][data-trace-id="${id.replace(/[^0-9a-f]/g, "")}"]`);
            this.node.hidden = !!live;
          };
          const mo = new MutationObserver(sync);
          if (cell) mo.observe(cell, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-windowed", "data-trace-id"] });
          sync();
          const cleanup = this._cleanup;
          this._cleanup = () => { mo.disconnect(); cleanup(); };
        }
      }
    }
    class FprofileCompareRenderer extends FprofileRenderer {
      constructor(options) {
        super(options);
        this.sanitizer = options.sanitizer || null;
      }

      draw(widget, model) {
        const el = document.createElement("div");
        const table = document.createElement("div");
        table.className = "fprofile-compare-table jp-RenderedHTMLCommon";
        const html = labStaticHtml(model.data["text/html"]);
        if (typeof html === "string" && (model.trusted || this.sanitizer)) {
          table.innerHTML = model.trusted ? html : this.sanitizer.sanitize(html);
        } else if (typeof model.data["text/plain"] === "string") {
          const pre = document.createElement("pre");
          pre.textContent = model.data["text/plain"];
          table.appendChild(pre);
        }
        this.node.replaceChildren(el, table);
        this._cleanup = widget.renderComparison({ payload: labPayload(model.data, this.mimeType), el });
      }
    }
    const extension = (kind, description, mimeType, Renderer) => ({
      id: `${LAB_NAME}:${kind}`,
      description,
      rendererFactory: {
        safe: true,
        mimeTypes: [mimeType],
        defaultRank: LAB_RANK,
        createRenderer: (options) => new Renderer(options),
      },
      rank: LAB_RANK,
      dataType: "json",
    });
    return [
      extension("trace", "The fprofile timeline of a displayed trace, drawn from the notebook output.",
        LAB_MIME, FprofileTraceRenderer),
      extension("compare", "The differential flame graph and the table of a comparison of two runs, drawn from the notebook output.",
        LAB_COMPARE_MIME, FprofileCompareRenderer),
    ];
  }

  const container = {
    init(shareScope) {
      labShareScope = shareScope;
    },
    async get(module) {
      if (module !== "./mimeExtension") throw new Error(`${LAB_NAME}: no module ${module}`);
      const { Widget } = await labShared("@lumino/widgets");
      const exts = labExtension(Widget);
      return () => ({ __esModule: true, default: exts });
    },
  };
  _JUPYTERLAB = window._JUPYTERLAB = window._JUPYTERLAB || {};
  _JUPYTERLAB[LAB_NAME] = container;
})();
