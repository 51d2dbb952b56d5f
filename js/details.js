// details.js: the details panel (`.fprofile-details`): under the call's name its actions (a button
// that zooms to it, the buttons that hide its function, file or module: filterbar.js
// hideButtons), then its facts, how many calls its function has, and its call stack (each frame a link that selects and zooms to that
// call). Layer 4 (DOM, text only).

import { makeEl, factList, callFacts } from "./panel.js";
import { formatCount } from "./units.js";
import { hideButtons } from "./filterbar.js";

/** tl: { doc, state, vp, selectCall(c), zoomToCall(c), addHidden(kind, value) }. Returns { el, show(c) } (c < 0: nothing selected). */
export function createDetails(tl) {
  const { doc, state, vp } = tl;
  const details = makeEl(doc, "div", "fprofile-details");

  function showEmpty() {
    details.replaceChildren(makeEl(doc, "div", "fprofile-panel-title", "Details"),
      makeEl(doc, "div", "fprofile-muted", "Click a call to see its details; every call of its function is highlighted."));
  }

  function show(c) {
    if (c < 0 || !state.trace) {
      showEmpty();
      return;
    }
    const { calls, codes } = state.trace;
    const code = calls.code[c];
    let same = 0;
    for (let i = 0; i < calls.count; i++) if (calls.code[i] === code) same++;
    const title = makeEl(doc, "div", "fprofile-details-title", codes.name[code]);
    const facts = callFacts(state, vp, c);
    facts.push(["Depth", String(calls.depth[c])], ["Calls of it", `${formatCount(same)} (highlighted)`]);
    const stackTitle = makeEl(doc, "div", "fprofile-panel-title", "Call stack");
    const stack = makeEl(doc, "ol", "fprofile-stack");
    const chain = [];
    for (let p = c; p >= 0; p = calls.parent[p]) chain.push(p);
    chain.reverse();
    for (const p of chain) {
      const li = makeEl(doc, "li", p === c ? "fprofile-current" : null);
      const btn = makeEl(doc, "button", "fprofile-link", codes.name[calls.code[p]]);
      btn.type = "button";
      btn.title = `${codes.file[calls.code[p]]}:${codes.line[calls.code[p]]}`;
      btn.addEventListener("click", () => { tl.selectCall(p); tl.zoomToCall(p); });
      li.append(btn);
      stack.append(li);
    }
    const zoomBtn = makeEl(doc, "button", "fprofile-zoom-to", "Zoom to this call");
    zoomBtn.type = "button";
    zoomBtn.addEventListener("click", () => tl.zoomToCall(c));
    // the actions first, under the name: a long list of facts never pushes them below the fold
    const actions = makeEl(doc, "div", "fprofile-details-actions");
    actions.append(zoomBtn, hideButtons(tl, code));
    details.replaceChildren(makeEl(doc, "div", "fprofile-panel-title", "Details"), title, actions, factList(doc, facts), stackTitle, stack);
  }

  showEmpty();
  return { el: details, show };
}
