// search.js: the search box (`input.fprofile-search`) and its count: the functions whose name or
// file contains the text are highlighted (state.searchMask; the root gets data-search-active while
// it filters), Enter selects the longest matching call and zooms to it, Escape clears. Layer 4
// (DOM).

import { makeEl } from "./panel.js";
import { longestVisibleCall } from "./state.js";
import { formatCount } from "./units.js";

/**
 * tl: { doc, root, state, listen, selectCall(c), zoomToCall(c), invalidateOverview(), schedule() }.
 * Returns { input, count, apply() (filter again, e.g. for a new trace) }.
 */
export function createSearch(tl) {
  const { doc, root, state } = tl;
  const input = makeEl(doc, "input", "fprofile-search");
  input.type = "search";
  input.placeholder = "Search functions…";
  input.title = "Highlight the functions whose name or file contains this text; Enter zooms to the longest match";
  input.setAttribute("aria-label", "Search functions");
  input.spellcheck = false;
  const count = makeEl(doc, "span", "fprofile-search-count");

  function apply() {
    const q = input.value.trim().toLowerCase();
    const { trace } = state;
    if (!trace || !q) {
      state.searchMask = null;
      count.textContent = "";
    } else {
      const { codes, calls } = trace;
      const mask = new Uint8Array(codes.count);
      let fns = 0;
      for (let c = 0; c < codes.count; c++) {
        if (codes.name[c].toLowerCase().includes(q) || codes.file[c].toLowerCase().includes(q)) {
          mask[c] = 1;
          fns++;
        }
      }
      let n = 0;
      for (let i = 0; i < calls.count; i++) n += mask[calls.code[i]];
      state.searchMask = mask;
      count.textContent = `${formatCount(fns)} function${fns === 1 ? "" : "s"}, ${formatCount(n)} call${n === 1 ? "" : "s"}`;
    }
    root.toggleAttribute("data-search-active", state.searchMask !== null);
    tl.invalidateOverview();
    tl.schedule();
  }

  tl.listen(input, "input", apply);
  tl.listen(input, "keydown", (e) => {
    if (e.key === "Escape") {
      input.value = "";
      apply();
    } else if (e.key === "Enter" && state.trace && state.searchMask) {
      // Enter: select the longest matching call and zoom to it.
      const mask = state.searchMask;
      const best = longestVisibleCall(state, (code) => mask[code] === 1);
      if (best >= 0) {
        tl.selectCall(best);
        tl.zoomToCall(best);
      }
    }
    e.stopPropagation();
  });

  return { input, count, apply };
}
