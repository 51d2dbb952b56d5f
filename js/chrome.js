// chrome.js: the timeline's chrome: the root element, the toolbar (reset button, task lanes toggle, window label,
// "N of M lanes" label, help), the windowed note, the error box, the placeholder, the layout that
// holds the views (overview, flame bar, zoomed view, side panel with its handle), and what follows
// the page rather than the trace: the theme (light / dark from the option, JupyterLab's body
// attributes or the system) and the width of the views. Layer 5 (DOM): it places the views'
// elements but never calls their drawing; timeline.js composes it with the views and the actions.

import { makeEl } from "./panel.js";
import { readPalette, codeColours, resolveDark } from "./render.js";
import { bandColours } from "./bandrows.js";
import { createSideResizer } from "./sidepanel.js";

const HELP_PROCESSES = " · click a process header or c: collapse / expand";
const HELP_TASKS = " · t: task lanes";

/**
 * The chrome of a timeline in document `doc`: `root` (what the views get as `tl.root`) and the
 * static elements, made before the views; `assemble` places the views in it once they exist.
 */
export function createChrome(doc) {
  const el = (tag, cls, text) => makeEl(doc, tag, cls, text);
  const root = el("div", "fprofile-root");
  root.tabIndex = 0;
  root.setAttribute("role", "application");
  root.setAttribute("aria-label", "fprofile timeline");

  const toolbar = el("div", "fprofile-toolbar");
  const resetBtn = el("button", "fprofile-reset", "Reset zoom");
  resetBtn.type = "button";
  resetBtn.title = "Show the whole run (r)";
  const taskLanesBtn = el("button", "fprofile-task-lanes-toggle", "Task lanes");
  taskLanesBtn.type = "button";
  taskLanesBtn.hidden = true;
  taskLanesBtn.setAttribute("aria-pressed", "false");
  const windowLabel = el("span", "fprofile-window-label");
  const idleLabel = el("span", "fprofile-idle-label fprofile-muted");
  idleLabel.title = "Threads with no call in the zoomed window take no room in the zoomed view; the overview and the thread list show them all";
  const help = el("span", "fprofile-help", "wheel: zoom · drag: pan · double-click: zoom to call · r / + / − / arrows · f: flame graph");
  const windowedNote = el("div", "fprofile-windowed-note fprofile-muted");
  windowedNote.hidden = true;
  const errorBox = el("div", "fprofile-error");
  errorBox.setAttribute("role", "alert");
  errorBox.hidden = true;
  const main = el("div", "fprofile-main");
  const views = el("div", "fprofile-views");
  const zoomWrap = el("div", "fprofile-zoom-wrap");
  const placeholder = el("div", "fprofile-placeholder", "No trace loaded.");
  const side = el("div", "fprofile-side");

  return {
    root, resetBtn, taskLanesBtn, windowLabel, idleLabel, windowedNote, placeholder, side,
    /**
     * Put the views (`ui`: timeline.js's parts) into the chrome, and the chrome into `container`.
     * `makeRowMenu()` makes the summary's row menu (after the side panel's handle, as before).
     */
    assemble(tl, ui, container, makeRowMenu) {
      const { flame, search, zoomView, tooltip, overview, threadList, details, table } = ui;
      toolbar.append(resetBtn, flame.button, taskLanesBtn, search.input, search.regex, search.count, windowLabel, idleLabel, help);
      zoomWrap.append(zoomView.el, flame.el, tooltip.el, placeholder);
      views.append(overview.el, flame.bar, zoomWrap);
      side.append(threadList.el, details.el);
      const sideResizer = createSideResizer(tl, main, side);
      main.append(views, sideResizer.el, side);
      const rowMenu = makeRowMenu();
      root.append(toolbar, windowedNote, ui.filterBar.el, errorBox, main, table.el, rowMenu.el);
      container.append(root);
      table.el.hidden = true;
      side.hidden = true;
      return rowMenu;
    },
    showError(message) {
      errorBox.textContent = message;
      errorBox.hidden = !message;
    },
    /**
     * The task lanes toggle for a trace of `lanes` task lanes (tasklaneview.js countTaskLanes):
     * hidden without any (or in windowed mode: `offered` false), disabled above `max`.
     */
    offerTaskLanes(offered, lanes, max) {
      taskLanesBtn.hidden = !offered || lanes === 0;
      const base = help.textContent.replace(HELP_TASKS, "");
      help.textContent = taskLanesBtn.hidden || lanes > max ? base : base.replace(" · f: flame graph", ` · f: flame graph${HELP_TASKS}`);
      taskLanesBtn.disabled = lanes > max;
      taskLanesBtn.title = lanes > max ? `Task lanes: ${lanes} tasks, more than the ${max} lanes shown at most`
        : "Show each thread's tasks as lanes of their own under it: their steps, their calls, the gaps where they awaited (t)";
    },
    /** The toggle's look: pressed while the task lanes are shown. */
    syncTaskLanes(on) {
      taskLanesBtn.setAttribute("aria-pressed", on ? "true" : "false");
      taskLanesBtn.classList.toggle("fprofile-pressed", on);
    },
    /** The help line, with the processes' keys when the trace has several. */
    setHelpProcesses(multi) {
      help.textContent = help.textContent.split(HELP_PROCESSES)[0] + (multi ? HELP_PROCESSES : "");
    },
    /** Apply the theme (`themeOpt`: "auto", "light" or "dark") to the root and the state (the palette, the colours of the trace shown). */
    applyTheme(state, themeOpt) {
      state.dark = resolveDark(doc, themeOpt);
      root.classList.toggle("fprofile-dark", state.dark);
      root.classList.toggle("fprofile-light", !state.dark);
      state.pal = readPalette(root, state.dark);
      if (state.trace) {
        state.colours = codeColours(state.trace.codes, state.dark);
        state.bandColours = bandColours(state.bands.keys, state.dark);
      }
    },
    /** The width the views have (CSS px, 0 before layout). */
    viewsWidth() {
      return views.clientWidth;
    },
    /**
     * Follow the page's theme and the views' width: calls `onTheme()` when the page's theme may have changed and `onResize()` when the size may have;
     * the observers are removed by `cleanups`.
     */
    watch(win0, onTheme, onResize, listen, cleanups) {
      if (typeof MutationObserver === "function" && doc.body) {
        const mo = new MutationObserver(onTheme);
        mo.observe(doc.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
        cleanups.push(() => mo.disconnect());
      }
      if (win0.matchMedia) {
        const mq = win0.matchMedia("(prefers-color-scheme: dark)");
        if (mq.addEventListener) {
          mq.addEventListener("change", onTheme);
          cleanups.push(() => mq.removeEventListener("change", onTheme));
        }
      }
      if (typeof ResizeObserver === "function") {
        const ro = new ResizeObserver(onResize);
        ro.observe(views);
        cleanups.push(() => ro.disconnect());
      } else {
        listen(win0, "resize", onResize);
      }
    },
  };
}

