// search.js: the search box (`input.fprofile-search`), its regex toggle
// (`input.fprofile-search-regex`) and its count: the functions whose name or file contains the
// text (or matches it as a regular expression, case ignored; filters.js compileSearch: an invalid
// one is a message in the count, `.fprofile-search-error`) are highlighted (state.searchMask; the root gets data-search-active while
// it filters), Enter selects the longest matching call and zooms to it, Escape clears. Layer 4
// (DOM).

import { makeEl, makeTextBox } from "./panel.js";
import { longestVisibleCall } from "./state.js";
import { compileSearch } from "./filters.js";
import { formatCount } from "./units.js";

/**
 * tl: { doc, root, state, listen, selectCall(c), zoomToCall(c), invalidateOverview(), schedule() }.
 * Returns { input, regex (its label, with the toggle), count, apply() (filter again, e.g. for a new trace) }.
 */
export function createSearch(tl) {
  const { doc, root, state } = tl;
  const input = makeTextBox(doc, "fprofile-search", "search", "Search functions…",
    "Highlight the functions whose name or file contains this text; Enter zooms to the longest match",
    "Search functions");
  const regex = makeEl(doc, "label", "fprofile-search-regex-label");
  regex.title = "Search with a regular expression (case ignored)";
  const regexBox = makeEl(doc, "input", "fprofile-search-regex");
  regexBox.type = "checkbox";
  regex.append(regexBox, doc.createTextNode(".*"));
  const count = makeEl(doc, "span", "fprofile-search-count");

  function apply() {
    const { trace } = state;
    const m = trace ? compileSearch(input.value, regexBox.checked) : null;
    count.classList.toggle("fprofile-search-error", !!(m && m.error));
    if (!m || m.error) {
      state.searchMask = null;
      count.textContent = m ? m.error : "";
    } else {
      const { codes, calls } = trace;
      const mask = new Uint8Array(codes.count);
      let fns = 0;
      for (let c = 0; c < codes.count; c++) {
        if (m.test(codes.name[c]) || m.test(codes.file[c])) {
          mask[c] = 1;
          fns++;
        }
      }
      let n = 0;
      const { kept, searchCallRows } = state;
      if (searchCallRows) {
        // windowed: the page holds a window's calls only; the host's rows count every call
        for (const r of searchCallRows) if (mask[r.code] === 1) n += Number(r.calls) || 0;
      } else {
        for (let i = 0; i < calls.count; i++) if (!kept || kept[i]) n += mask[calls.code[i]];
      }
      state.searchMask = mask;
      count.textContent = `${formatCount(fns)} function${fns === 1 ? "" : "s"}, ${formatCount(n)} call${n === 1 ? "" : "s"}`;
    }
    root.toggleAttribute("data-search-active", state.searchMask !== null);
    tl.invalidateOverview();
    tl.schedule();
  }

  tl.listen(input, "input", apply);
  tl.listen(regexBox, "change", apply);
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

  return { input, regex, count, apply };
}
