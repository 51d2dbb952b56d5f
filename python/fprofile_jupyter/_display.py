"""Display of a Trace: the notebook mimebundle (``Trace._repr_mimebundle_``) and ``show()``.

A displayed trace carries three representations:

- ``application/vnd.jupyter.widget-view+json``: the interactive timeline widget (JupyterLab,
  Notebook 7, VS Code...), created only inside a kernel where anywidget is installed;
- ``text/html``: a static fallback for places where widgets do not render (nbviewer, nbconvert
  HTML, a notebook reopened without its widget state): the self-contained HTML timeline of
  ``_core.export_html`` in a sandboxed ``<iframe srcdoc>``, or, above ``STATIC_HTML_MAX_BYTES``,
  a static table of the slowest functions with a note;
- ``text/plain``: the trace's repr (terminals, plain Python).
"""
from __future__ import annotations

import html
import json
from typing import Any, Iterable, Optional

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

#: Traces whose compact encoding is larger than this get a static summary table as the HTML
#: fallback instead of the self-contained timeline (which embeds the whole trace again).
STATIC_HTML_MAX_BYTES = 2 * 1024 * 1024
#: Rows of the static summary table.
STATIC_SUMMARY_ROWS = 25
#: Height of the static timeline's iframe, CSS pixels.
STATIC_IFRAME_HEIGHT_PX = 620


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


def _widget_class() -> Optional[type]:
    try:
        from ._widget import TimelineWidget
    except ImportError:  # anywidget not installed: the HTML fallback still shows the timeline
        return None
    return TimelineWidget


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
    ``summary_json``: ``trace.summary_json()`` if the caller has it already."""
    from . import _core

    summary = json.loads(summary_json if summary_json is not None else trace.summary_json())
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
    ``summary``: ``trace.summary_json()`` if the caller has it already."""
    rows = json.loads(summary if summary is not None else trace.summary_json()).get("overall", [])[:top]
    threads = len(getattr(trace, "threads", []) or [])
    parts = [f"fprofile · {len(trace):,} call{'' if len(trace) == 1 else 's'} · {threads} thread{'' if threads == 1 else 's'} · "
             f"{fmt_ns(getattr(trace, 'duration_ns', 0))}"]
    if rows:
        parts.append("most time: " + ", ".join(
            f"{r.get('function', '')} {fmt_ns(r.get('total_ns', 0))}" for r in rows))
    return (f'<div class="fprofile-static-caption" style="font-family:sans-serif;font-size:12px;'
            f'opacity:.8;margin:2px 0 4px">{html.escape(" · ".join(parts))}</div>')


def static_html(trace: Any, encoded: Optional[bytes] = None, summary: Optional[str] = None) -> str:
    """The ``text/html`` fallback: the self-contained timeline in an iframe, or a summary table.
    ``encoded`` / ``summary``: ``trace.to_bytes()`` / ``trace.summary_json(overall_only=True)`` if
    the caller has them already (a display encodes and summarises a trace once)."""
    from . import _core

    if encoded is None:
        encoded = trace.to_bytes()
    if summary is None:
        summary = trace.summary_json(overall_only=True)
    size = len(encoded)
    if size > STATIC_HTML_MAX_BYTES:
        note = (f"The interactive timeline is shown by the notebook widget; this static copy has only "
                f"the summary, because the trace is {size:,} bytes (the static copy's limit is "
                f"{STATIC_HTML_MAX_BYTES:,}). Save it as HTML to share it: trace.save('run.html').")
        return static_summary_html(trace, note, summary)
    document = _core.export_html(trace, _title(trace), encoded=encoded, summary=summary)
    # a one-line caption in plain HTML: what a sanitizing renderer (GitHub, an untrusted notebook
    # in JupyterLab) still shows when it strips the iframe
    # srcdoc holds a whole HTML document as an attribute value: escaping & " < > is enough.
    # sandbox without allow-same-origin: the document's scripts run, isolated from the page.
    return (caption(trace, summary=summary) +
            f'<iframe class="fprofile-static-timeline" title="{html.escape(_title(trace))}" '
            f'sandbox="allow-scripts" style="width:100%;height:{STATIC_IFRAME_HEIGHT_PX}px;'
            f'border:1px solid rgba(128,128,128,.35);border-radius:4px" '
            f'srcdoc="{html.escape(document, quote=True)}"></iframe>')


def mimebundle(trace: Any, include: Optional[Iterable[str]] = None,
               exclude: Optional[Iterable[str]] = None) -> dict:
    """The mimebundle of a displayed trace (``Trace._repr_mimebundle_``)."""
    bundle: dict = {"text/plain": repr(trace)}
    if not _in_kernel():  # a terminal or plain Python: only text is shown
        return bundle
    if not (_wanted("text/html", include, exclude) or _wanted(WIDGET_MIME, include, exclude)):
        return bundle
    # encoded and summarised once, for the fallback page, its caption and the widget's data (the
    # overall rows only: the timeline computes the per-thread ones from the trace)
    encoded = trace.to_bytes()
    summary = trace.summary_json(overall_only=True)
    if _wanted("text/html", include, exclude):
        bundle["text/html"] = static_html(trace, encoded, summary)
    if _wanted(WIDGET_MIME, include, exclude):
        cls = _widget_class()
        if cls is not None:
            widget = cls(trace, encoded=encoded, summary=summary)
            view = widget._repr_mimebundle_() or {}
            if isinstance(view, tuple):  # anywidget returns (data, metadata)
                view = view[0] or {}
            if WIDGET_MIME in view:
                bundle[WIDGET_MIME] = view[WIDGET_MIME]
    return bundle


def show(trace: Any) -> None:
    """Display ``trace``: the timeline widget in a notebook, its text repr elsewhere."""
    try:
        from IPython.display import display
    except ImportError:
        print(repr(trace))
        return
    if not _in_kernel():
        print(repr(trace))
        return
    display(mimebundle(trace), raw=True)
