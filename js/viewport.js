// @ts-check
// viewport.js: the coordinate spaces of the timeline, in one place (speedscope's
// configSpaceToPhysicalViewSpace, here for a time axis). Layer 3: pure (no DOM, no canvas), tested
// in node by tests/js/viewport.test.mjs; depends on layout.js for the window maths.
//
// Spaces, named in every view:
//   trace ns   : time relative to the trace origin, integer nanoseconds held in numbers (exact to
//                2^53); shown in text and axis labels as t - origin (layout.js displayOrigin)
//   zoom x     : CSS px from the left edge of the zoomed canvas
//                x = (t - win[0]) * zoomPxPerNs, zoomPxPerNs = width / (win[1] - win[0])
//   overview x : CSS px from the left edge of the overview canvas, the same over the whole run
//                x = (t - full[0]) * overviewPxPerNs
//   content y  : zoomed-view y before vertical scrolling (lanes stacked from 0)
//   zoom y     : CSS px from the top of the zoomed canvas, under the fixed time axis
//                y = content y - scrollY + ZOOM_AXIS_PX
// The canvas backing stores are scaled by devicePixelRatio (render.js sizeCanvas); nothing here
// sees device pixels.

import { clampWindow, zoomWindow } from "./layout.js";

/** Height of the zoomed view's time axis, CSS px. */
export const ZOOM_AXIS_PX = 22;
/** Height of one call row (one depth) in the zoomed view, CSS px. */
export const ZOOM_ROW_PX = 18;
/** Height of a lane's header (thread names and span lines), CSS px. */
export const ZOOM_HEADER_PX = 20;
/** Gap between lanes, CSS px. */
export const ZOOM_GAP_PX = 6;
/** Height of a process header row (traces of more than one process), CSS px. */
export const ZOOM_PROC_HEADER_PX = 22;
/** Height of one row of task bands above a thread's calls, CSS px. */
export const ZOOM_BAND_PX = 14;
/** A collapsed process: its summary lane shows this many depths, each this high (CSS px). */
export const ZOOM_SUMMARY_DEPTHS = 4;
export const ZOOM_SUMMARY_ROW_PX = 6;
/** The narrowest window, ns. */
export const MIN_WINDOW_NS = 50;
/** A pointer that moved less than this (CSS px) clicked; more, it dragged. */
export const DRAG_THRESHOLD_PX = 3;
/** The lowest zoomed view, CSS px. */
const ZOOM_MIN_HEIGHT_PX = 160;
/** Room kept below the last lane, CSS px. */
const ZOOM_BOTTOM_PX = 8;

/**
 * The viewport of one timeline: the whole run, the zoomed window, the canvas width, the zoomed
 * view's height and vertical scroll, and the conversions between the spaces above.
 */
export class Viewport {
  /** @param {number} [maxZoomHeight] most height of the zoomed view, CSS px (default 420) */
  constructor(maxZoomHeight) {
    /** most height of the zoomed view (it is as tall as its lanes up to this, then scrolls) */
    this.maxZoomHeight = Math.max(ZOOM_MIN_HEIGHT_PX, Number(maxZoomHeight) || 420);
    /** @type {[number, number]} the whole run, trace ns */
    this.full = [0, 1];
    /** @type {[number, number]} the zoomed window, trace ns */
    this.win = [0, 1];
    /** width of both canvases, CSS px (0 until measured) */
    this.width = 0;
    /** height of the zoomed canvas, CSS px */
    this.zoomHeight = Math.min(this.maxZoomHeight, 220);
    /** height of the lanes in content y */
    this.contentHeight = 0;
    /** vertical scroll of the zoomed view: content y at the top of its call area */
    this.scrollY = 0;
  }

  // ---- x: trace ns <-> zoom x / overview x ------------------------------------------------
  zoomPxPerNs() {
    return this.width / (this.win[1] - this.win[0]);
  }
  /** @param {number} t trace ns @returns {number} zoom x */
  nsToZoomX(t) {
    return (t - this.win[0]) * this.zoomPxPerNs();
  }
  /** @param {number} x zoom x @returns {number} trace ns */
  zoomXToNs(x) {
    return this.win[0] + x / this.zoomPxPerNs();
  }
  overviewPxPerNs() {
    return this.width / (this.full[1] - this.full[0]);
  }
  /** @param {number} t trace ns @returns {number} overview x */
  nsToOverviewX(t) {
    return (t - this.full[0]) * this.overviewPxPerNs();
  }
  /** @param {number} x overview x @returns {number} trace ns */
  overviewXToNs(x) {
    return this.full[0] + x / this.overviewPxPerNs();
  }

  // ---- y: content y <-> zoom y --------------------------------------------------------------
  /** @param {number} cy content y @returns {number} zoom y */
  contentYToZoomY(cy) {
    return cy - this.scrollY + ZOOM_AXIS_PX;
  }
  /** @param {number} y zoom y @returns {number} content y */
  zoomYToContentY(y) {
    return y - ZOOM_AXIS_PX + this.scrollY;
  }
  maxScrollY() {
    return Math.max(0, this.contentHeight - (this.zoomHeight - ZOOM_AXIS_PX) + ZOOM_BOTTOM_PX);
  }
  /**
   * The lanes shown are `h` content px tall (the scroll range), and the view is sized for lanes
   * `sizeH` tall (default h): the zoomed view is as tall as them (with a margin), at least
   * ZOOM_MIN_HEIGHT_PX and at most maxZoomHeight; the scroll stays in range. The timeline sizes
   * the view for all the visible threads' lanes, so it keeps its height while lanes empty in the
   * window come and go.
   * @param {number} h @param {number} [sizeH]
   */
  setContentHeight(h, sizeH = h) {
    this.contentHeight = h;
    this.zoomHeight = Math.max(ZOOM_MIN_HEIGHT_PX, Math.min(this.maxZoomHeight, ZOOM_AXIS_PX + sizeH + 12));
    this.scrollY = Math.min(this.scrollY, this.maxScrollY());
  }
  /**
   * Scroll so that content y [top, bottom) is in view: no move when it already is; else its top
   * a row below the top of the view, or its bottom at the bottom when it is nearer below (a span
   * taller than the view shows its top). True when the scroll changed.
   * @param {number} top @param {number} bottom
   */
  scrollIntoView(top, bottom) {
    const viewH = this.zoomHeight - ZOOM_AXIS_PX;
    if (top >= this.scrollY && bottom <= this.scrollY + viewH) return false;
    const margin = Math.min(ZOOM_ROW_PX, Math.max(0, (viewH - (bottom - top)) / 2));
    if (bottom > this.scrollY + viewH && bottom - top + margin <= viewH) return this.scrollTo(bottom + margin - viewH);
    return this.scrollTo(top - margin);
  }
  /**
   * Scroll to content y `y`, clamped to [0, maxScrollY]; true when the scroll changed.
   * @param {number} y
   */
  scrollTo(y) {
    const next = Math.min(this.maxScrollY(), Math.max(0, y));
    if (next === this.scrollY) return false;
    this.scrollY = next;
    return true;
  }

  // ---- the window -----------------------------------------------------------------------------
  /**
   * A new run: the whole run is [a, b]; the window is unset until setWindow.
   * @param {number} a @param {number} b
   */
  setFull(a, b) {
    this.full = [a, b];
    this.win = [NaN, NaN];
  }
  /**
   * Set the window to [a, b] clamped into the run (keeping its width when it can, at least
   * MIN_WINDOW_NS wide); true when it changed.
   * @param {number} a @param {number} b
   */
  setWindow(a, b) {
    const [s, e] = clampWindow(a, b, this.full[0], this.full[1], MIN_WINDOW_NS);
    if (s === this.win[0] && e === this.win[1]) return false;
    this.win = [s, e];
    return true;
  }
  /**
   * The window zoomed by `factor` (> 1 zooms in) around trace time `atNs` (default: its middle);
   * not clamped (setWindow clamps).
   * @param {number} factor @param {number} [atNs]
   * @returns {[number, number]}
   */
  zoomedWindow(factor, atNs) {
    const t = atNs === undefined ? (this.win[0] + this.win[1]) / 2 : atNs;
    const [a, b] = zoomWindow(this.win[0], this.win[1], t, factor);
    return [a, b];
  }
  /**
   * The window moved by `dx` zoom px (> 0: later); not clamped.
   * @param {number} dx
   * @returns {[number, number]}
   */
  pannedWindow(dx) {
    const dt = dx / this.zoomPxPerNs();
    return [this.win[0] + dt, this.win[1] + dt];
  }
  /**
   * The window that shows [start, end] with a 5% margin each side (at least MIN_WINDOW_NS / 2).
   * @param {number} start @param {number} end
   * @returns {[number, number]}
   */
  windowAround(start, end) {
    const m = Math.max((end - start) * 0.05, MIN_WINDOW_NS / 2);
    return [start - m, end + m];
  }
}
