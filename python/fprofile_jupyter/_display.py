"""Display of a Trace: the notebook mimebundle (``Trace._repr_mimebundle_``) and ``show()``.

A displayed trace carries, inside a kernel:

- ``application/vnd.fprofile-jupyter.trace+json`` (``TRACE_MIME``): the trace itself, its ``.fpt``
  bytes in base64 (``{"fpt": "..."}``), the one copy in the saved notebook. fprofile-jupyter's
  JupyterLab / Notebook 7 extension (``js/hosts/lab.js``, installed with the package) draws the
  timeline from it, ranked above the widget view: a saved notebook reopens with its timelines
  after a kernel restart, with no kernel, untrusted, with no setting changed and no widget state.
  As plotly and Vega do, the display is not a widget: nothing of it needs the kernel, so there is
  no comm, no copy of the trace in widget state and nothing for nbconvert to prefer over the
  static copy. ``TimelineWidget(trace)`` (``_widget.py``) is the timeline tied to the kernel;
- ``text/html``: a one-line caption (what GitHub's sanitizer keeps) and a static table of the
  slowest functions, for nbconvert HTML, nbviewer and GitHub. It does not hold the trace again:
  an interactive page is ``trace.save("run.html")``;
- ``text/plain``: the trace's repr (terminals, plain Python).
"""
from __future__ import annotations

import base64
import html
import json
from typing import Any, Iterable, Optional

#: The trace in a notebook output (drawn by the JupyterLab / Notebook 7 extension).
TRACE_MIME = "application/vnd.fprofile-jupyter.trace+json"
#: A comparison of two runs in a notebook output: its differential flame tree (drawn by the same
#: extension, above the comparison's HTML table; ``comparison_output``).
COMPARE_MIME = "application/vnd.fprofile-jupyter.compare+json"

#: Above these sizes a trace is not put in the notebook (it would freeze or exhaust the tab, and
#: bloat the saved notebook): the output says so with the numbers instead. Change them before
#: displaying if your browser can take more.
MAX_DISPLAY_BYTES = 160 * 1024 * 1024
MAX_DISPLAY_CALLS = 20_000_000
#: Rows of the static summary table.
STATIC_SUMMARY_ROWS = 25


def _wanted(mime: str, include: Optional[Iterable[str]], exclude: Optional[Iterable[str]]) -> bool:
    if include is not None and mime not in include:
        return False
    if exclude is not None and mime in exclude:
        return False
    return True


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where a widget can be displayed)."""
    try:
        from IPython import get_ipython  # noqa: F401 - only whether IPython is there
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _title(trace: Any) -> str:
    meta = getattr(trace, "metadata", None) or {}
    title = meta.get("title") if isinstance(meta, dict) else None
    return str(title) if title else "fprofile trace"


def fmt_ns(ns: float) -> str:
    """A duration with a sensible unit: ``812 ns``, ``3.2 µs``, ``45.1 ms``, ``2.03 s``: the
    project's one rule (``_core.format_duration``, the same in the timeline; see
    tests/fixtures/durations.json)."""
    from . import _core

    return _core.format_duration(int(round(ns)))


def static_summary_html(trace: Any, note: str = "", summary_json: Optional[str] = None) -> str:
    """A static, escaped table of the functions with the most total time (all threads).
    ``summary_json``: ``trace.summary_json(overall_only=True)`` if the caller has it already."""
    from . import _core

    summary = json.loads(summary_json if summary_json is not None else trace.summary_json(overall_only=True))
    rows = summary.get("overall", [])[:STATIC_SUMMARY_ROWS]
    roots = (getattr(trace, "metadata", None) or {}).get("paths.roots", "[]")
    esc = html.escape
    out = ['<div class="fprofile-static" style="font-family:sans-serif;font-size:13px">']
    threads = len(getattr(trace, "threads", []) or [])
    out.append(f"<p><b>{esc(_title(trace))}</b>: {len(trace):,} call{'' if len(trace) == 1 else 's'} in {threads} thread"
               f"{'' if threads == 1 else 's'}, {esc(fmt_ns(getattr(trace, 'duration_ns', 0)))}</p>")
    if note:
        out.append(f'<p style="opacity:.75">{esc(note)}</p>')
    out.append('<table class="fprofile-summary-static" style="border-collapse:collapse">'
               "<thead><tr><th style='text-align:left'>function</th><th style='text-align:left'>file:line</th>"
               "<th>calls</th><th>total</th><th>self</th><th>mean</th><th>max</th></tr></thead><tbody>")
    for r in rows:
        out.append(
            "<tr>"
            f"<td style='text-align:left'><code>{esc(str(r.get('function', '')))}</code></td>"
            f"<td style='text-align:left' title='{esc(str(r.get('file', '')))}'>"
            f"{esc(_core.short_path(str(r.get('file', '')), roots))}:{int(r.get('line', 0))}</td>"
            f"<td>{int(r.get('calls', 0)):,}</td>"
            f"<td>{esc(fmt_ns(r.get('total_ns', 0)))}</td><td>{esc(fmt_ns(r.get('self_ns', 0)))}</td>"
            f"<td>{esc(fmt_ns(r.get('mean_ns', 0)))}</td><td>{esc(fmt_ns(r.get('max_ns', 0)))}</td>"
            "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def caption(trace: Any, top: int = 3, summary: Optional[str] = None) -> str:
    """``fprofile · 1,205 calls · 7 threads · 65.9 ms · most time: run_pipeline 63.1 ms, ...``
    ``summary``: ``trace.summary_json(overall_only=True)`` if the caller has it already."""
    rows = json.loads(summary if summary is not None else trace.summary_json(overall_only=True)).get("overall", [])[:top]
    threads = len(getattr(trace, "threads", []) or [])
    parts = [f"fprofile · {len(trace):,} call{'' if len(trace) == 1 else 's'} · {threads} thread{'' if threads == 1 else 's'} · "
             f"{fmt_ns(getattr(trace, 'duration_ns', 0))}"]
    if rows:
        parts.append("most time: " + ", ".join(
            f"{r.get('function', '')} {fmt_ns(r.get('total_ns', 0))}" for r in rows))
    return (f'<div class="fprofile-static-caption" style="font-family:sans-serif;font-size:12px;'
            f'opacity:.8;margin:2px 0 4px">{html.escape(" · ".join(parts))}</div>')


def static_html(trace: Any, summary: Optional[str] = None) -> str:
    """The ``text/html`` of a displayed trace: the caption and the static summary table.
    ``summary``: ``trace.summary_json(overall_only=True)`` if the caller has it already."""
    if summary is None:
        summary = trace.summary_json(overall_only=True)
    note = ("The interactive timeline is drawn by fprofile-jupyter in JupyterLab and Notebook 7; this "
            "static copy has the summary. To share the timeline: trace.save('run.html').")
    return caption(trace, summary=summary) + static_summary_html(trace, note, summary)


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size):,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n:,} bytes"


def too_big(calls: int, size: Optional[int]) -> Optional[str]:
    """Why a trace of ``calls`` calls (``size`` bytes encoded, if known) is not sent to the
    browser, or None when it fits ``MAX_DISPLAY_CALLS`` and ``MAX_DISPLAY_BYTES``."""
    if calls <= MAX_DISPLAY_CALLS and (size is None or size <= MAX_DISPLAY_BYTES):
        return None
    what = f"{calls:,} calls" + (f" ({_fmt_bytes(size)} in the compact format)" if size is not None else "")
    return (f"This trace is too big to show in the notebook: {what}; the limits are "
            f"{MAX_DISPLAY_CALLS:,} calls and {_fmt_bytes(MAX_DISPLAY_BYTES)}. Record less (narrower "
            "--subs, --max-events), or save it (trace.save('run.fpt'), or -o run.fpt) and open it "
            "with `fprofile view run.fpt`.")


def trace_output(trace: Any, encoded: Optional[bytes] = None) -> dict:
    """The ``TRACE_MIME`` data of ``trace``: ``{"fpt": <base64>}``, or ``{"error": <message>}``
    when it is too big to send. ``encoded``: ``trace.to_bytes()`` if the caller has it already."""
    calls = len(trace)
    message = too_big(calls, None)
    if message is None:
        if encoded is None:
            encoded = trace.to_bytes()
        message = too_big(calls, len(encoded))
    if message is not None:
        from . import _windowed

        if _windowed.windowed(trace):
            # too big to keep whole: the overview (no zooming without a widget:
            # fprofile.TimelineWidget(trace) fetches windows from the kernel)
            saved = _windowed.saved_output(trace, trace_id="")
            saved["windowed"]["note"] = ("This trace is too big to keep whole in the notebook: the overview of the run. To zoom "
                                         "(windows fetched from the kernel), display fprofile.TimelineWidget(trace).")
            return saved
        return {"error": message}
    return {"fpt": base64.b64encode(encoded).decode("ascii")}


def mimebundle(trace: Any, include: Optional[Iterable[str]] = None,
               exclude: Optional[Iterable[str]] = None) -> dict:
    """The mimebundle of a displayed trace (``Trace._repr_mimebundle_``)."""
    bundle: dict = {"text/plain": repr(trace)}
    if not _in_kernel():  # a terminal or plain Python: only text is shown
        return bundle
    if _wanted(TRACE_MIME, include, exclude):
        bundle[TRACE_MIME] = trace_output(trace)
    if _wanted("text/html", include, exclude):
        bundle["text/html"] = static_html(trace)
    return bundle


def comparison_output(comparison: Any) -> dict:
    """The ``COMPARE_MIME`` data of a ``Comparison``: ``{"flame": <base64 of flame_bytes()>,
    "functions": [[function, file, line_a, line_b], ...] (the ``func`` of the tree indexes them),
    "name_a", "name_b"}``, or ``{"error": <message>}`` when the tree is above MAX_DISPLAY_BYTES."""
    flame = comparison.flame_bytes()
    if len(flame) > MAX_DISPLAY_BYTES:
        return {"error": f"This comparison's differential flame graph is too big to show in the notebook: "
                         f"{len(flame) // 64:,} call paths ({_fmt_bytes(len(flame))}); the limit is "
                         f"{_fmt_bytes(MAX_DISPLAY_BYTES)}. The table below has every function."}
    return {
        "flame": base64.b64encode(flame).decode("ascii"),
        "functions": [[r.function, r.file, r.line_a, r.line_b] for r in comparison.functions()],
        "name_a": comparison.name_a,
        "name_b": comparison.name_b,
    }


def comparison_mimebundle(comparison: Any, include: Optional[Iterable[str]] = None,
                          exclude: Optional[Iterable[str]] = None) -> dict:
    """The mimebundle of a displayed ``Comparison``: its text table, its sortable HTML table
    (``text/html``, what nbconvert and GitHub show) and, inside a kernel, ``COMPARE_MIME``: the
    extension draws the differential flame graph from it and the HTML table under it."""
    bundle: dict = {"text/plain": repr(comparison)}
    if _wanted("text/html", include, exclude):
        bundle["text/html"] = comparison._repr_html_()
    if _in_kernel() and _wanted(COMPARE_MIME, include, exclude):
        bundle[COMPARE_MIME] = comparison_output(comparison)
    return bundle


def show(trace: Any) -> None:
    """Display ``trace``: the timeline in a notebook, its text repr elsewhere."""
    try:
        from IPython.display import display
    except ImportError:
        print(repr(trace))
        return
    if not _in_kernel():
        print(repr(trace))
        return
    display(mimebundle(trace), raw=True)


def _notebook_progress_class():
    from ._cmdline import Progress

    class NotebookProgress(Progress):
        """The progress of a long load in a notebook output: one display (``display_id``) updated
        in place, then marked done; the terminal bar's timing (nothing for loads shorter than
        ``_cmdline.PROGRESS_DELAY_S``). The label is shown as text (escaped in the HTML)."""

        def __init__(self, label: str) -> None:
            super().__init__(label)
            self.enabled = True
            self.handle: Any = None

        def _bundle(self, text: str, frac: Optional[float]) -> dict:
            bar = "" if frac is None else f'<progress value="{frac * 1000:.0f}" max="1000" style="width:16em"></progress> '
            return {"text/plain": text, "text/html": f"<div class=\"fprofile-progress\">{bar}{html.escape(text)}</div>"}

        def draw(self, frac: float, done: int, total: int) -> None:
            from IPython.display import display

            text = f"{self.label}: {frac * 100:.0f}% ({_fmt_bytes(done)} of {_fmt_bytes(total)})"
            if self.handle is None:
                self.handle = display(self._bundle(text, frac), raw=True, display_id=True)
            else:
                self.handle.update(self._bundle(text, frac), raw=True)

        def close(self, done_text: Optional[str] = None) -> None:
            """Marks the display done with ``done_text`` (or "<label>: stopped")."""
            if self.handle is not None:
                self.handle.update(self._bundle(done_text or f"{self.label}: stopped", None), raw=True)
                self.handle = None
            self.drawn = False

    return NotebookProgress


def notebook_progress(label: str) -> Any:
    """A progress display for a long load when running in a Jupyter kernel, else None."""
    if not _in_kernel():
        return None
    return _notebook_progress_class()(label)
