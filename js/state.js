// state.js: what the views of one timeline share: the shown trace and what is derived from it,
// the processes, which threads are visible, which processes are collapsed, the lanes (all, and
// those with something in the window), the task bands and the task lanes toggle, the theme's colours, the selection, the search and the
// call under the pointer, the view filters (filters.js applies them). Layer 3 (no DOM). timeline.js makes the one instance, its actions (actions.js, data.js, windowed.js) change it;
// the views read it (the zoomed view also sets hoverCall).

/** The state of a timeline with no trace. */
export function createTimelineState() {
  return {
    trace: null, // the decoded trace (decode.js), or null
    fullIndex: null, // layout.js buildIndex(trace): every call
    overviewTrace: null, // windowed mode (windowed.js setWindowedData): the overview reply composed (windowreply.js), drawn by the overview
    overviewIndex: null, // its buildIndex
    index: null, // what the views draw: fullIndex, or with a filter on filters.js filteredIndex (kept calls, their self times)
    filter: { hidden: [], minNs: 0 }, // the view filters (filters.js): [{ kind: function | file | module, value }], minimum duration
    kept: null, // with a filter on: filters.js applyFilter(trace, filter).kept (per call 1 when shown), else null
    filterGen: 0, // counts filter changes (caches of derived views key on it)
    colours: null, // render.js codeColours(trace.codes, dark)
    roots: [], // units.js pathRoots(trace.metadata): file names shown as users know them
    pal: null, // render.js readPalette(root, dark)
    dark: false,
    visible: new Uint8Array(0), // per thread: 1 when shown
    lanes: { multi: false, groups: [], lanes: [], height: 0 }, // lanes.js layoutGroups of the visible threads (the overview's)
    zoomLanes: { multi: false, groups: [], lanes: [], height: 0, idle: 0 }, // lanes.js windowLayout: the zoomed view's (content y), without the lanes empty in the window
    processes: [], // lanes.js traceProcesses(trace)
    processThreads: [], // per process: its threads' indices
    collapsed: new Uint8Array(0), // per process: 1 when collapsed to its summary lane
    bands: null, // lanes.js buildBandIndex(trace)
    bandColours: [], // bandrows.js bandColours(bands.keys, dark)
    bandBatch: null, // render.js BoxBatch over the band colours (fills, then bottom lines)
    taskLanes: false, // the task lanes toggle (tasklaneview.js): each thread's tasks as lanes under it in the zoomed view
    taskIndex: null, // with it on: tasklaneview.js taskLaneIndex(trace, bands, kept)
    origin: 0, // the trace time shown as 0 everywhere (axes, tooltip, details, window label)
    selectedCall: -1,
    selectedCode: -1, // the function of the selected call: every call of it is highlighted
    searchMask: null, // Uint8Array over codes (1: matches the search), or null
    windowed: null, // windowed mode (windowed.js): { skeleton, depths, calls, source, reply (drawn), live, flame (the host's flame graphs, or null) }, or null for a trace held whole
    searchCallRows: null, // windowed: the host's summary rows ({code, calls}) the search counts calls from, or null
    hoverCall: -1,
    batch: null, // render.js BoxBatch over 2 x codes (each colour, then each faded colour)
  };
}

/** Is something highlighted (a selected function or a search)? Then the rest is faded. */
export function highlightActive(state) {
  return state.searchMask !== null || state.selectedCode >= 0;
}

/** Is function `code` highlighted (selected, or matching the search)? */
export function isHighlighted(state, code) {
  return code === state.selectedCode || (state.searchMask !== null && state.searchMask[code] === 1);
}

/** The longest call of a visible thread, not hidden by the filter, whose function `matches(code)`, or -1 (the first of equals). */
export function longestVisibleCall(state, matches) {
  const { calls } = state.trace;
  const { visible, kept } = state;
  let best = -1;
  for (let i = 0; i < calls.count; i++) {
    if (matches(calls.code[i]) && visible[calls.thread[i]] && (!kept || kept[i]) &&
        (best < 0 || calls.end[i] - calls.start[i] > calls.end[best] - calls.start[best])) best = i;
  }
  return best;
}
