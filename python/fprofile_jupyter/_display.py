"""Display of a Trace: the notebook mimebundle (``Trace._repr_mimebundle_``) and ``show()``.

A displayed trace carries, inside a kernel:

- ``application/vnd.fprofile-jupyter.trace+json`` (``TRACE_MIME``): the trace itself, its ``.fpt``
  bytes in base64 (``{"fpt": "..."}``; ``trace_output``), or ``{"in": "text/html"}`` when the
  ``text/html`` below holds that payload (the usual case: one copy per output). fprofile-jupyter's JupyterLab /
  Notebook 7 extension (``js/hosts/lab.js``, installed with the package) draws the timeline from
  it, ranked above everything else, so there the ``text/html`` below is not rendered and nothing
  draws twice. A saved notebook reopens with its timelines after a kernel restart, with no kernel,
  untrusted. As plotly and Vega do, the display is not a widget: nothing of it needs the kernel.
  ``TimelineWidget(trace)`` (``_widget.py``) is the timeline tied to the kernel;
- ``text/html``: the same timeline for every host that runs an output's scripts but does not know
  the mime type (VS Code, Colab, classic Notebook, JupyterLab without the extension, nbconvert's
  HTML, Quarto, Jupyter Book): a self-contained fragment (``fragment_html``): one ``<div>`` with the
  caption, the static picture and the table of the slowest functions (what shows where scripts
  do not run: an untrusted notebook, GitHub, nbviewer), the same payload as the mime type, and the
  timeline's code minified (``js/hosts/fragment.js`` -> ``js/dist/fragment.min.js``, about 120 kB),
  which draws the timeline in the output's place and hides the static part. Nothing is fetched.
  The fragment is the one copy of the payload in the saved notebook: the mime type then holds
  ``IN_HTML`` and the extension reads the payload from the fragment (``output_payload``);
- ``image/png``: the overview picture, when the build has it (``_picture_png``; GitHub and
  nbviewer show it);
- ``text/plain``: the trace's repr (terminals, plain Python).
"""
from __future__ import annotations

import base64
import html
import json
import re
import uuid
from typing import Any, Iterable, Optional

#: The trace in a notebook output (drawn by the JupyterLab / Notebook 7 extension).
TRACE_MIME = "application/vnd.fprofile-jupyter.trace+json"
#: A comparison of two runs in a notebook output: its differential flame tree (drawn by the same
#: extension, above the comparison's HTML table; ``comparison_output``).
COMPARE_MIME = "application/vnd.fprofile-jupyter.compare+json"

#: The data of ``TRACE_MIME`` / ``COMPARE_MIME`` when the output's ``text/html`` fragment holds the
#: payload: the saved notebook keeps one copy of the trace, which the extension reads from there
#: (``output_payload``; js/hosts/lab.js ``labPayload``).
IN_HTML = {"in": "text/html"}

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


def in_kernel() -> bool:
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

    summary = summary_json if summary_json is not None else trace.summary_json(overall_only=True)
    roots = (getattr(trace, "metadata", None) or {}).get("paths.roots", "[]")
    esc = html.escape
    out = ['<div class="fprofile-static" style="font-family:sans-serif;font-size:13px">']
    threads = len(getattr(trace, "threads", []) or [])
    out.append(f"<p><b>{esc(_title(trace))}</b>: {len(trace):,} call{'' if len(trace) == 1 else 's'} in {threads} thread"
               f"{'' if threads == 1 else 's'}, {esc(fmt_ns(getattr(trace, 'duration_ns', 0)))}</p>")
    if note:
        out.append(f'<p style="opacity:.75">{esc(note)}</p>')
    # the table is the core's (fprofile::summary::static_table): the columns of every summary table
    out.append(_core.summary_static_table(summary, roots, STATIC_SUMMARY_ROWS))
    out.append("</div>")
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


#: What the static part of a displayed trace says (it shows only where the output's scripts do not
#: run, or when the trace is too big to embed): true wherever it is read.
STATIC_NOTE = ("A static copy: the interactive timeline draws here when the notebook's scripts run "
               "(JupyterLab, Notebook 7, VS Code, Colab, classic Notebook, nbconvert's HTML); they do not "
               "run in an untrusted notebook (trust it to see the timeline), on GitHub or in nbviewer. "
               "To share the timeline: trace.save('run.html').")


def _picture_png(trace: Any) -> Optional[bytes]:
    """The trace's overview picture as PNG bytes (``Trace.picture_png()``, rendered by the Rust
    core), or None when this build has no picture or the trace cannot make one, or when it is
    backed by its file with its calls not loaded and shown windowed (the picture needs every call)."""
    method = getattr(trace, "picture_png", None)
    if method is None or shown_from_file(trace):
        return None
    try:
        png = method()
    except Exception:  # noqa: BLE001 - a picture never costs the user the display
        return None
    return bytes(png) if png else None


def _picture_img(png: Optional[bytes]) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (f'<img class="fprofile-picture" alt="fprofile overview of the run" '
            f'style="max-width:100%;height:auto;display:block;margin:4px 0" src="data:image/png;base64,{data}">')


def static_html(trace: Any, summary: Optional[str] = None, note: str = STATIC_NOTE,
                png: Optional[bytes] = None) -> str:
    """The static part of a displayed trace: the caption, the picture (``png``) and the summary
    table. ``summary``: ``trace.summary_json(overall_only=True)`` if the caller has it already."""
    if summary is None:
        summary = trace.summary_json(overall_only=True)
    return caption(trace, summary=summary) + _picture_img(png) + static_summary_html(trace, note, summary)


def _fragment_js() -> str:
    global _FRAGMENT_JS
    if _FRAGMENT_JS is None:
        from . import _core

        _FRAGMENT_JS = _core.asset_source("dist/fragment.min.js")
    return _FRAGMENT_JS


_FRAGMENT_JS: Optional[str] = None


def _json_for_script(value: Any) -> str:
    """JSON inside a ``<script type="application/json">``: ``<``, ``>``, ``&`` escaped (and every
    non-ASCII character), so no ``</script>`` or ``<!--`` can appear; the value is unchanged.
    The rule of ``json_for_script`` in rust/core/src/formats/html.rs."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PAYLOAD = re.compile(r'<script type="application/json" class="fprofile-payload">(.*?)</script>', re.S)


def output_payload(data: dict, mime: str = TRACE_MIME) -> Optional[dict]:
    """The payload of a notebook output's ``mime`` (its data as saved: a mime bundle), read from
    the ``text/html`` fragment when the mime type points there; None when the output has none."""
    payload = data.get(mime)
    if payload != IN_HTML:
        return payload
    page = data.get("text/html", "")
    found = _PAYLOAD.search("".join(page) if isinstance(page, list) else page)
    return json.loads(found.group(1)) if found else None


def fragment_html(kind: str, payload: dict, static: str) -> str:
    """The self-contained ``text/html`` of a displayed trace (``kind`` "trace") or comparison
    ("compare"): one ``<div>`` with ``static`` (what shows where scripts do not run), ``payload``
    (the mime type's data) and the timeline's minified script (``js/hosts/fragment.js``). Its id
    is unique, so outputs never meet."""
    uid = uuid.uuid4().hex
    return (f'<div class="fprofile-fragment" id="fprofile-{uid}" data-fprofile-fragment="{kind}" '
            f'style="max-width:100%;overflow-x:auto">'
            f'<div class="fprofile-static-part">{static}</div>'
            f'<script type="application/json" class="fprofile-payload">{_json_for_script(payload)}</script>'
            f"<script>{_fragment_js()}</script></div>")


def fmt_bytes(n: int) -> str:
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
    what = f"{calls:,} calls" + (f" ({fmt_bytes(size)} in the compact format)" if size is not None else "")
    return (f"This trace is too big to show in the notebook: {what}; the limits are "
            f"{MAX_DISPLAY_CALLS:,} calls and {fmt_bytes(MAX_DISPLAY_BYTES)}. Record less (narrower "
            "--subs, --max-events), or save it (trace.save('run.fpt'), or -o run.fpt) and open it "
            "with `fprofile view run.fpt`.")


def shown_from_file(trace: Any) -> bool:
    """Is ``trace`` backed by its file with its calls not loaded (``Trace.file``, ``Trace.in_memory``)
    and shown windowed (``_windowed.windowed``)? Then it is never loaded to be shown: its output is
    the windowed overview (no picture), ``show()`` the windowed widget."""
    from . import _windowed

    return (getattr(trace, "file", None) is not None and not getattr(trace, "in_memory", True)
            and _windowed.windowed(trace))


#: What a displayed file-backed trace's overview says (the output alone cannot zoom).
FILE_BACKED_NOTE = ("This trace is backed by its file ({file}): the output keeps the overview of the run. To zoom "
                    "(windows read from the file by the kernel), call trace.show() or display "
                    "fprofile_jupyter.TimelineWidget(trace).")


def trace_output(trace: Any, encoded: Optional[bytes] = None) -> dict:
    """The ``TRACE_MIME`` data of ``trace``: ``{"fpt": <base64>}``, or ``{"error": <message>}``
    when it is too big to send. ``encoded``: ``trace.to_bytes()`` if the caller has it already. A
    file-backed trace shown windowed (``shown_from_file``) gives its windowed overview
    (``_windowed.saved_output``), its calls not loaded."""
    if encoded is None and shown_from_file(trace):
        from . import _windowed

        saved = _windowed.saved_output(trace, trace_id="")
        saved["windowed"]["note"] = FILE_BACKED_NOTE.format(file=trace.file)
        return saved
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
    if not in_kernel():  # a terminal or plain Python: only text is shown
        return bundle
    want_html = _wanted("text/html", include, exclude)
    payload = trace_output(trace) if want_html or _wanted(TRACE_MIME, include, exclude) else None
    png = _picture_png(trace) if want_html or _wanted("image/png", include, exclude) else None
    if png and _wanted("image/png", include, exclude):
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
    if want_html and payload is not None:
        note = payload.get("error") or (payload.get("windowed") or {}).get("note") or STATIC_NOTE
        bundle["text/html"] = fragment_html("trace", payload, static_html(trace, note=note, png=png))
    if payload is not None and _wanted(TRACE_MIME, include, exclude):
        bundle[TRACE_MIME] = IN_HTML if "text/html" in bundle else payload
    return bundle


def comparison_output(comparison: Any) -> dict:
    """The ``COMPARE_MIME`` data of a ``Comparison``: ``{"flame": <base64 of flame_bytes()>,
    "functions": [[function, file, line_a, line_b], ...] (the ``func`` of the tree indexes them),
    "name_a", "name_b"}``, or ``{"error": <message>}`` when the tree is above MAX_DISPLAY_BYTES."""
    flame = comparison.flame_bytes()
    if len(flame) > MAX_DISPLAY_BYTES:
        return {"error": f"This comparison's differential flame graph is too big to show in the notebook: "
                         f"{len(flame) // 64:,} call paths ({fmt_bytes(len(flame))}); the limit is "
                         f"{fmt_bytes(MAX_DISPLAY_BYTES)}. The table below has every function."}
    return {
        "flame": base64.b64encode(flame).decode("ascii"),
        "functions": [[r.function, r.file, r.line_a, r.line_b] for r in comparison.functions()],
        "name_a": comparison.name_a,
        "name_b": comparison.name_b,
    }


def comparison_mimebundle(comparison: Any, include: Optional[Iterable[str]] = None,
                          exclude: Optional[Iterable[str]] = None) -> dict:
    """The mimebundle of a displayed ``Comparison``: its text table and, inside a kernel,
    ``COMPARE_MIME`` (the extension draws the differential flame graph from it and the HTML table
    under it) and a ``text/html`` fragment with the same flame graph over the sortable HTML table
    (``fragment_html``; the table alone where scripts do not run). Outside a kernel the
    ``text/html`` is the table alone."""
    bundle: dict = {"text/plain": repr(comparison)}
    kernel = in_kernel()
    want_html = _wanted("text/html", include, exclude)
    payload = comparison_output(comparison) if kernel and (want_html or _wanted(COMPARE_MIME, include, exclude)) else None
    if want_html:
        table = comparison._repr_html_()
        bundle["text/html"] = fragment_html("compare", payload, table) if payload is not None else table
    if payload is not None and _wanted(COMPARE_MIME, include, exclude):
        bundle[COMPARE_MIME] = IN_HTML if "text/html" in bundle else payload
    return bundle

