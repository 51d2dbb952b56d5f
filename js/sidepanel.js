// sidepanel.js: the handle between the views and the side panel (`.fprofile-side-resizer`, a
// vertical separator): dragging it, or its arrow keys when focused, sets the side panel's width
// (SIDE_MIN_PX to what leaves the views SIDE_VIEWS_MIN_PX); a double click gives the default back.
// The timeline's ResizeObserver sees the views' new width and redraws. The root's
// `data-side-width` is the width set (absent: the default). Layer 4 (DOM).

import { makeEl } from "./panel.js";

export const SIDE_MIN_PX = 200;
const SIDE_VIEWS_MIN_PX = 320;
const SIDE_KEY_STEP_PX = 24;

/** The width to give the side panel for a wish of `px` in a main area `mainPx` wide. */
export function clampSideWidth(px, mainPx) {
  const most = Math.max(SIDE_MIN_PX, mainPx - SIDE_VIEWS_MIN_PX);
  return Math.round(Math.max(SIDE_MIN_PX, Math.min(most, px)));
}

/** tl: { doc, root, listen }; `main` holds the views then `side`. Returns { el }. */
export function createSideResizer(tl, main, side) {
  const { doc, root } = tl;
  const el = makeEl(doc, "div", "fprofile-side-resizer");
  el.tabIndex = 0;
  el.setAttribute("role", "separator");
  el.setAttribute("aria-orientation", "vertical");
  el.setAttribute("aria-label", "Width of the side panel");
  el.title = "Drag (or use the arrow keys) to widen or narrow the side panel; double-click: its default width";
  let drag = null;

  function setWidth(px) {
    const w = clampSideWidth(px, main.clientWidth);
    side.style.flex = `0 0 ${w}px`;
    root.setAttribute("data-side-width", String(w));
    el.setAttribute("aria-valuenow", String(w));
  }
  tl.listen(el, "pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    drag = { x: e.clientX, w: side.getBoundingClientRect().width };
    if (el.setPointerCapture) el.setPointerCapture(e.pointerId);
    el.classList.add("fprofile-dragging");
  });
  tl.listen(el, "pointermove", (e) => {
    // the side panel is right of the handle: dragging left widens it
    if (drag) setWidth(drag.w + drag.x - e.clientX);
  });
  const end = () => {
    drag = null;
    el.classList.remove("fprofile-dragging");
  };
  tl.listen(el, "pointerup", end);
  tl.listen(el, "pointercancel", end);
  tl.listen(el, "dblclick", () => {
    side.style.flex = "";
    root.removeAttribute("data-side-width");
  });
  tl.listen(el, "keydown", (e) => {
    const w = side.getBoundingClientRect().width;
    if (e.key === "ArrowLeft") setWidth(w + SIDE_KEY_STEP_PX);
    else if (e.key === "ArrowRight") setWidth(w - SIDE_KEY_STEP_PX);
    else return;
    e.preventDefault();
    e.stopPropagation();
  });
  return { el };
}
