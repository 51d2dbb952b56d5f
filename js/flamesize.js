// flamesize.js: the height of the flame graph's canvas and, for the callers and callees view,
// where its middle line goes: as tall as what they draw (a flame of 2 rows no longer sits in a
// 420 px pane, the callers no longer get half of it when they are one row), between
// FLAME_MIN_HEIGHT_PX and the zoomed view's most height (beyond it, the flame scrolls as before).
// Layer 2: pure (no DOM), tested in node (tests/js/panels.test.mjs).

/** The flame views are never shorter than this (CSS px): room for the tooltip and a message. */
export const FLAME_MIN_HEIGHT_PX = 96;
/** Room above the callers and below the callees for their labels ("callers ↑", "callees ↓"). */
export const SANDWICH_LABEL_PX = 16;

/** The flame graph's height for `rows` depths of `rowPx`, at most `maxPx`. */
export function flameHeight(rows, rowPx, maxPx) {
  return Math.max(Math.min(FLAME_MIN_HEIGHT_PX, maxPx), Math.min(maxPx, rows * rowPx + 4));
}

/**
 * The callers and callees view for `up` rows of callers (growing upward from the middle line)
 * and `down` rows of callees (downward), rows of `rowPx`, at most `maxPx` tall. Returns { height,
 * mid }: the callers' first row ends 2 px above `mid`, the callees' starts at it. When both do not
 * fit, each side gets at least half of the height or what it needs, whichever is less.
 */
export function sandwichGeometry(up, down, rowPx, maxPx) {
  const upPx = SANDWICH_LABEL_PX + up * rowPx + 2;
  const downPx = down * rowPx + SANDWICH_LABEL_PX;
  const height = Math.max(Math.min(FLAME_MIN_HEIGHT_PX, maxPx), Math.min(maxPx, upPx + downPx));
  let mid = upPx;
  if (upPx + downPx > height) mid = Math.max(Math.min(upPx, Math.round(height / 2)), height - downPx);
  else mid += Math.floor((height - upPx - downPx) / 2);
  return { height, mid };
}
