"""The standalone timeline viewer: a small local web server (stdlib ``http.server``).

Over 500 lines: one HTTP handler whose routes share the trace and its window cache (_httpd, _follow: the rest).

``fprofile view [FILE] [--port N] [--no-browser]`` and ``python -m fprofile_jupyter.viewProfile [FILE]``
run :func:`main`. The server binds 127.0.0.1 only and serves exactly:

- ``/`` the page, ``/fprofile.js`` (the timeline bundle for host "viewer", embedded in the extension)
  and ``/fprofile.css``;
- ``/api/initial``: the FILE given on the command line, converted at start-up (or its error); for a
  streamed ``.fpt`` still being written (or any FILE with ``--live``) ``{"name", "live", "last_s"}``;
- ``/api/live``: that file followed while it is written (``_follow``): its latest generation
  (``{gen, done, calls, span, quiet_s, waiting?}`` and the URLs of its converted trace, windowed
  while the run grows; the two latest generations are kept);
- ``POST /api/upload``: a file chosen or dropped in the page, converted in Rust (any format
  :func:`fprofile_jupyter.load` reads: ``.fpt``, PYME JSON, PYME raw text);
- ``/api/trace/<id>.fpt`` and ``/api/trace/<id>.json``: a converted trace and its overall summary
  rows (the page computes the per-thread ones from the trace);
- a trace of more than ``_windowed.WINDOWED_CALLS`` calls is not sent whole (windowed mode,
  ``_windowed.py``): ``/api/trace/<id>.skeleton`` (the trace without its calls),
  ``/api/trace/<id>.overview`` (the whole run as a window reply, computed once) and
  ``/api/trace/<id>/window?t0=&t1=&px=`` (the window the page shows: a window reply; a bad
  request is a 400 with ``{"error": ...}``; ``px`` at most :data:`MAX_WINDOW_PX`, so a reply's
  size stays bounded by pixels, and a query takes milliseconds), and
  ``/api/trace/<id>/flame?threads=&t0=&t1=`` (the flame graph of those thread indices, comma
  separated, over ``[t0, t1)``, or the whole run without t0 and t1: the core's flame encoding,
  ``_windowed.flame_reply``; a bad request is a 400 with ``{"error": ...}``).

Nothing is read from the file system on request, so no path (``../``, absolute, encoded, symlinks)
reaches a file: anything else is a 404, with no directory listing. A Content-Security-Policy forbids
every remote load (the page works offline).

Hostile or broken clients cannot hold the server (the bounded server of ``_httpd``, with the limits
below):

- idle connections cost no thread and are closed after :data:`REQUEST_TIMEOUT_S` of silence; a
  request's head (request line and headers) is read by the server's loop, without a thread, and
  must be complete within :data:`HEAD_DEADLINE_S` of its first byte (slowloris holds no thread);
  bodies are read and requests answered by :data:`WORKER_THREADS` threads, however many
  connections are open;
- at most :data:`MAX_CONNECTIONS` connections are open: a new one beyond it closes the connection
  idle the longest, else the one whose head has been arriving the longest, or, when every one is
  being answered, is answered at once with a short 503 (closed lingering: the client reads it);
- a request (request line, headers and body) must arrive within :data:`REQUEST_DEADLINE_S` of its
  first byte, and each read waits at most :data:`REQUEST_TIMEOUT_S`: a client trickling a byte
  every few seconds is cut off at the deadline;
- :data:`MAX_CONVERSIONS` uploads are read and converted at once, the slot taken before the body
  is read; the body is streamed to a temporary file (0600, in the server's own 0700 directory),
  read back once, freed after. Others wait for their turn within their deadline, else get a 503
  with a "busy" message the page shows; uploads in progress (waiting included) leave
  :data:`FREE_WORKERS` workers to the page's other requests;
- an upload is at most :data:`MAX_UPLOAD_BYTES`, and a compressed ``.fpt`` upload may inflate to
  at most :data:`MAX_INFLATED_BYTES`: a header claiming more is refused before anything is
  inflated, and inflating stops at the claim (``_core.load_bytes(..., max_inflated=...)``), so a
  2 MB file claiming 2 GB costs no memory, and N such uploads at once cost at most one limit.
  The FILE argument is the user's own file: it is read with no such limit.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
import urllib.parse
import webbrowser
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import _core, _follow, _httpd, _io, _windowed
from ._progress import Progress

__all__ = ["main", "serve", "MAX_UPLOAD_BYTES"]

#: Largest upload the page may send (bytes). Larger files: ``fprofile view FILE``.
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024
#: Largest body a compressed ``.fpt`` upload may inflate to (bytes): about 50 million calls at the
#: 4.9 bytes per call of an ``.fpt`` body. Larger traces: ``fprofile view FILE``.
MAX_INFLATED_BYTES = 256 * 1024 * 1024
#: Converted traces kept in memory (the FILE argument is always kept).
KEEP_TRACES = 8
#: Seconds a connection may stay silent (idle before a request, or inside one: request line,
#: headers, or an upload that stalls before its Content-Length is reached) before the server gives
#: up on it; also the time a response may take to be sent.
REQUEST_TIMEOUT_S = 30.0
#: Seconds a whole request (request line, headers and body) may take from its first byte, however
#: steadily its bytes arrive.
REQUEST_DEADLINE_S = 60.0
#: Connections open at once (idle ones included); see the module docstring.
MAX_CONNECTIONS = 32
#: Requests read and answered at once: the server's worker threads.
WORKER_THREADS = 8
#: Uploads read and converted at once (each holds its body, and may inflate up to
#: MAX_INFLATED_BYTES, while it is converted).
MAX_CONVERSIONS = 1
#: Worker threads an upload never takes: uploads in progress at once (each holds a worker while it
#: waits for its turn, is read and converted) are at most WORKER_THREADS - FREE_WORKERS (at least
#: one), so the page's other requests always find a worker; one more upload is told the viewer is busy.
FREE_WORKERS = 2
#: Seconds a request's head (request line and headers) may take from its first byte: a client
#: trickling its headers is cut off then, holding no thread meanwhile (``_httpd``).
HEAD_DEADLINE_S = 5.0
#: Widest window a page may ask for, in pixels (a reply holds at most about this many items per
#: thread and depth).
MAX_WINDOW_PX = 8192

_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_TRACE_PATH = re.compile(r"^/api/trace/([0-9a-f]{32})(?:\.(fpt|json|skeleton|overview)|/(window|flame))$")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fprofile viewer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="fprofile.css">
</head>
<body class="fprofile-page">
<header class="fprofile-page-header">
<h1>fprofile</h1>
<label class="fprofile-choose" title="Open a trace: .fpt, PYME JSON or PYME raw text">Choose File<input type="file" id="fprofile-file"></label>
<span class="fprofile-drop-hint">or drop a trace file on the page</span>
<span class="fprofile-page-file"></span>
<span class="fprofile-page-live" hidden></span>
<label class="fprofile-page-pin" hidden title="Keep the view on the last seconds of the run as it grows"><input type="checkbox" id="fprofile-pin"> follow the last <input type="number" id="fprofile-pin-s" min="0.1" step="any" value="10"> s</label>
<span class="fprofile-page-status"></span>
</header>
<main class="fprofile-page-main" id="fprofile-app"></main>
<div class="fprofile-dropzone" hidden>Drop the trace file to open it</div>
<noscript>The viewer needs JavaScript.</noscript>
<script type="module" src="fprofile.js"></script>
</body>
</html>
"""


_NS_PER_S = _httpd.NS_PER_S


class _Converted:
    """A converted trace: its ``.fpt`` bytes, or in windowed mode the trace itself (to answer window
    requests), its skeleton and overview."""

    __slots__ = ("name", "fpt", "summary", "trace", "skeleton", "overview")

    def __init__(self, name: str, fpt: bytes, summary: bytes, trace=None, skeleton: bytes = b"", overview: bytes = b"") -> None:
        self.name = name
        self.fpt = fpt
        self.summary = summary
        self.trace = trace
        self.skeleton = skeleton
        self.overview = overview

    def window(self, query: str) -> bytes:
        """The reply to ``t0=&t1=&px=``; ``ValueError`` (one line) for a bad request."""
        if self.trace is None:
            raise ValueError("this trace was sent whole: it has no windows to ask for")
        q = urllib.parse.parse_qs(query)
        t0, t1, px = _windowed.parse_request(*((q.get(k) or [None])[0] for k in ("t0", "t1", "px")))
        if px > MAX_WINDOW_PX:
            raise ValueError(f"width of {px} px: the viewer answers windows up to {MAX_WINDOW_PX} pixels wide")
        return self.trace.window_bytes(t0, t1, px)

    def flame(self, query: str) -> bytes:
        """The flame graph for ``threads=0,1&t0=&t1=``; ``ValueError`` (one line) for a bad request."""
        if self.trace is None:
            raise ValueError("this trace was sent whole: the page merges its flame graph itself")
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        text = (q.get("threads") or [""])[0]
        try:
            threads = [int(k) for k in text.split(",")] if text else []
        except ValueError:
            raise ValueError(f"threads: comma-separated thread indices, not {text!r}") from None
        t0, t1 = ((q.get(k) or [None])[0] for k in ("t0", "t1"))
        return _windowed.flame_reply(self.trace, threads, t0 or None, t1 or None)


def _display_name(name: str) -> str:
    """A file name for display: its last path component, no control characters, at most 200 chars."""
    base = re.split(r"[\\/]", name)[-1] if name else ""
    base = "".join(ch for ch in base if ch.isprintable())
    return base[:200] or "upload"


def _describe_error(name: str, err: BaseException) -> str:
    if isinstance(err, _core.FormatError):
        return f"{name} is not a trace this viewer can read: {err}"
    if isinstance(err, OSError):
        return f"Cannot read {name}: {err.strerror or err}"
    return f"Could not convert {name}: {err}"


class _State:
    """Converted traces (by random id) and what the FILE argument gave. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traces: "OrderedDict[str, _Converted]" = OrderedDict()
        self._pinned: Optional[str] = None
        self._live_ids: List[str] = []
        self.initial: Dict[str, object] = {}
        #: The file followed while it is written (``_follow``), or None.
        self.live: Optional[_follow.Follower] = None
        self.bundle = _core.asset_bundle("viewer").encode("utf-8")
        self.css = _core.asset_css().encode("utf-8")
        #: taken by each upload while its body is read and converted
        self.conversions = threading.BoundedSemaphore(MAX_CONVERSIONS)
        #: taken by each upload while it waits for that, is read and converted
        self.uploads = threading.BoundedSemaphore(max(1, WORKER_THREADS - FREE_WORKERS))

    def upload_file(self) -> Tuple[int, str]:
        """A new temporary file for an upload's body: (descriptor, path), mode 0600, alone in a
        directory of its own (mode 0700); :meth:`upload_done` removes both, so that nothing is
        left in the temporary directory between uploads, even when the server is killed."""
        folder = tempfile.mkdtemp(prefix="fprofile-view-")
        try:
            return tempfile.mkstemp(suffix=".upload", dir=folder)
        except OSError:
            os.rmdir(folder)
            raise

    @staticmethod
    def upload_done(path: str) -> None:
        """Removes an upload's file and its directory (:meth:`upload_file`)."""
        try:
            os.unlink(path)
        finally:
            os.rmdir(os.path.dirname(path))

    def add(self, conv: _Converted, pin: bool = False) -> str:
        tid = secrets.token_hex(16)
        with self._lock:
            self._traces[tid] = conv
            if pin:
                self._pinned = tid
            while len(self._traces) > KEEP_TRACES + (1 if self._pinned else 0):
                oldest = next(k for k in self._traces if k != self._pinned)
                del self._traces[oldest]
        return tid

    def get(self, tid: str) -> Optional[_Converted]:
        with self._lock:
            return self._traces.get(tid)

    def convert(self, name: str, data: Optional[bytes] = None, path: Optional[str] = None, pin: bool = False,
                progress: Optional[Callable[[int, int], object]] = None) -> Dict[str, str]:
        """Convert a file (bytes or a path) in Rust; the page's answer: URLs, or an error message.
        ``progress(bytes_done, bytes_total)``: called while a file is loaded (the terminal's bar)."""
        try:
            if path is not None and _io.backs(path):  # a long run: answered from its file, never loaded
                trace = _core.open_file(path)
            elif path is not None:
                trace = _core.load(path, progress=progress)
            else:
                trace = _core.load_bytes(data or b"", max_inflated=MAX_INFLATED_BYTES)
            conv = self.converted(name, trace)
        except Exception as e:  # FormatError, OSError, anything the converter raises: a message
            return {"name": name, "error": _describe_error(name, e)}
        tid = self.add(conv, pin=pin)
        return self.answer(tid, conv)

    @staticmethod
    def converted(name: str, trace, windowed: Optional[bool] = None) -> _Converted:
        """``trace`` as the page gets it: whole, or windowed (above ``_windowed.WINDOWED_CALLS``
        calls, or when ``windowed`` says so)."""
        if windowed if windowed is not None else _windowed.windowed(trace):
            overview = _windowed.overview_bytes(trace)  # first: builds the summary alongside
            summary = trace.summary_json(overall_only=True).encode("utf-8")
            return _Converted(name, b"", summary, trace, trace.skeleton_bytes(), overview)
        return _Converted(name, trace.to_bytes(), trace.summary_json(overall_only=True).encode("utf-8"))

    def publish_live(self, name: str, trace, done: bool) -> Dict[str, object]:
        """A new generation of a file being followed (``_follow``): converted windowed while it
        grows (what the page fetches per update is bounded by pixels, not by the run), as any
        trace once done; kept with the generation before it (a page may still be fetching its
        windows), older ones dropped."""
        conv = self.converted(name, trace, windowed=None if done else True)
        tid = self.add(conv, pin=True)
        with self._lock:
            self._live_ids.append(tid)
            while len(self._live_ids) > 2:
                self._traces.pop(self._live_ids.pop(0), None)
        answer = self.answer(tid, conv)
        del answer["name"]
        return answer

    @staticmethod
    def answer(tid: str, conv: _Converted) -> Dict[str, object]:
        """The page's answer for a converted trace: its URLs."""
        answer: Dict[str, object] = {"name": conv.name, "trace": f"api/trace/{tid}.fpt", "summary": f"api/trace/{tid}.json"}
        if conv.trace is not None:
            del answer["trace"]
            answer.update(windowed={"skeleton": f"api/trace/{tid}.skeleton", "overview": f"api/trace/{tid}.overview",
                                              "window": f"api/trace/{tid}/window", "flame": f"api/trace/{tid}/flame", "calls": len(conv.trace)})
        return answer


def _make_handler(state: _State, port_box: List[int]):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "fprofile-viewer"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        # the socket's timeout until the first read (StreamRequestHandler.setup); each read then
        # sets its own (_DeadlineReader), each answer REQUEST_TIMEOUT_S (_send)
        timeout = REQUEST_TIMEOUT_S

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet: the terminal shows the address and errors only

        # -- the connection ---------------------------------------------------------------------
        def setup(self) -> None:
            super().setup()
            # rfile reads through the server's DeadlineReader: first the request's head (read by
            # the server's loop), then the socket, each read bounded by the request's deadline
            reader = getattr(self.connection, "reader", None)
            assert isinstance(reader, _httpd.DeadlineReader)
            self._reader = reader
            self._buffered = self.rfile
            #: set by handle(): the connection stays open, idle, for the server to wait on, with
            #: what it already holds of the next request (``leftover``)
            self.keep_alive = False
            self.leftover = b""
            #: set when an answer leaves a body unread: the server reads and drops it for a moment
            #: before closing, so the client reads the answer rather than a connection reset
            self.linger_close = False

        def handle(self) -> None:
            """One request, within its deadline; a kept-alive connection then goes back to the
            server's loop (``keep_alive``) with the bytes of the next request already read
            (``leftover``), instead of holding this thread."""
            self._reader.start_request()
            self.handle_one_request()
            if self.close_connection:
                return
            parts = []
            self._reader.probing = True  # only what was read already: never wait here
            try:
                while True:
                    chunk = self._buffered.read1(65536)
                    if not chunk:
                        break
                    parts.append(chunk)
            finally:
                self._reader.probing = False
            self.leftover = b"".join(parts)
            self.keep_alive = True

        # -- helpers --------------------------------------------------------------------------
        def _send(self, status: int, body: bytes, ctype: str, head_only: bool = False) -> None:
            # the reads may have left a short timeout; each write waits at most this long
            # (sendall: in total, not per chunk) for a client that does not read its answer
            self.connection.settimeout(REQUEST_TIMEOUT_S)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", _CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.send_header("Cache-Control", "no-store")
            if status == 405:
                self.send_header("Allow", "GET, HEAD, POST")
            if status == 503:
                self.send_header("Retry-After", "1")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def _json(self, status: int, obj: object) -> None:
            self._send(status, json.dumps(obj).encode("utf-8"), "application/json; charset=utf-8")

        def _not_found(self, head_only: bool = False) -> None:
            self._send(404, b"Not found\n", "text/plain; charset=utf-8", head_only)

        def _host_ok(self) -> bool:
            # Only our own address: a page on another site cannot reach us through DNS rebinding.
            host = (self.headers.get("Host") or "").lower()
            port = port_box[0]
            return host in (f"127.0.0.1:{port}", f"localhost:{port}")

        def _origin_ok(self) -> bool:
            origin = self.headers.get("Origin")
            if origin is None:
                return True
            port = port_box[0]
            return origin.lower() in (f"http://127.0.0.1:{port}", f"http://localhost:{port}")

        # -- GET / HEAD ---------------------------------------------------------------------------
        def _get(self, head_only: bool) -> None:
            if self.headers.get("Content-Length") not in (None, "0") or self.headers.get("Transfer-Encoding"):
                # a body we do not read must not be taken for the next request on this connection
                self.close_connection = True
                self.linger_close = True
            if not self._host_ok():
                self._send(403, b"Forbidden\n", "text/plain; charset=utf-8", head_only)
                return
            split = urllib.parse.urlsplit(self.path)
            path = split.path
            if path in ("/", "/index.html"):
                self._send(200, _PAGE.encode("utf-8"), "text/html; charset=utf-8", head_only)
            elif path == "/fprofile.js":
                self._send(200, state.bundle, "text/javascript; charset=utf-8", head_only)
            elif path == "/fprofile.css":
                self._send(200, state.css, "text/css; charset=utf-8", head_only)
            elif path == "/api/initial":
                self._send(200, json.dumps(state.initial).encode("utf-8"), "application/json; charset=utf-8", head_only)
            elif path == "/api/live" and state.live is not None:
                self._send(200, json.dumps(state.live.answer()).encode("utf-8"), "application/json; charset=utf-8", head_only)
            else:
                m = _TRACE_PATH.match(path)
                conv = state.get(m.group(1)) if m else None
                kind = (m.group(2) or m.group(3)) if m else None
                if conv is None or m is None:
                    self._not_found(head_only)
                elif kind in ("window", "flame"):
                    try:
                        reply = conv.window(split.query) if kind == "window" else conv.flame(split.query)
                    except (ValueError, OverflowError, IndexError) as e:
                        what = "window" if kind == "window" else "flame graph"
                        body = json.dumps({"error": f"No {what}: {e}"}).encode("utf-8")
                        self._send(400, body, "application/json; charset=utf-8", head_only)
                        return
                    self._send(200, reply, "application/octet-stream", head_only)
                elif kind in ("skeleton", "overview"):
                    body = conv.skeleton if kind == "skeleton" else conv.overview
                    if not body:
                        self._not_found(head_only)
                    else:
                        self._send(200, body, "application/octet-stream", head_only)
                elif kind == "fpt":
                    if not conv.fpt:
                        self._not_found(head_only)
                    else:
                        self._send(200, conv.fpt, "application/octet-stream", head_only)
                else:
                    self._send(200, conv.summary, "application/json; charset=utf-8", head_only)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self._get(False)

        def do_HEAD(self) -> None:  # noqa: N802
            self._get(True)

        # -- POST: upload ---------------------------------------------------------------------------
        def do_POST(self) -> None:  # noqa: N802
            # every early answer leaves the body unread: the connection closes (lingering)
            self.close_connection = True
            self.linger_close = True
            if not self._host_ok() or not self._origin_ok():
                self._send(403, b"Forbidden\n", "text/plain; charset=utf-8")
                return
            if urllib.parse.urlsplit(self.path).path != "/api/upload":
                self._not_found()
                return
            name = _display_name(urllib.parse.unquote(self.headers.get("X-Fprofile-Filename") or ""))
            length_text = self.headers.get("Content-Length")
            if length_text is None or not length_text.strip().isdigit():
                self._json(411, {"name": name, "error": "The upload has no Content-Length; send the file as the request body."})
                return
            length = int(length_text)
            if length > MAX_UPLOAD_BYTES:
                self._json(413, {"name": name, "error": (
                    f"{name} is {length / 2**20:,.0f} MiB; the viewer accepts uploads up to "
                    f"{MAX_UPLOAD_BYTES / 2**20:,.0f} MiB. Open it from the command line instead: fprofile view FILE")})
                return
            busy = {"name": name, "error": (f"The viewer is busy converting another upload: {name} was not opened. "
                                            "Try again in a moment.")}
            # uploads in progress (waiting included) leave workers for everything else
            if not state.uploads.acquire(blocking=False):
                self._json(503, busy)
                return
            try:
                # one conversion at a time (MAX_CONVERSIONS), its body read only then: the others
                # wait, within their deadline, with their bodies still on their way
                if not state.conversions.acquire(timeout=max(0, self._reader.left_ns()) / _NS_PER_S):
                    self._json(503, busy)
                    return
                try:
                    self._upload(name, length)
                finally:
                    state.conversions.release()
            finally:
                state.uploads.release()

        def _upload(self, name: str, length: int) -> None:
            """The body, streamed to a temporary file (0600 in the server's 0700 directory), then
            converted; the file is gone before the answer is sent."""
            left, stalled = length, False
            try:
                fd, path = state.upload_file()
            except OSError as e:
                self._json(500, {"name": name, "error": f"Cannot store {name} to convert it: {e.strerror or e}"})
                return
            try:
                with open(fd, "wb") as f:
                    buf = memoryview(bytearray(min(length, 1 << 20) or 1))
                    while left > 0:
                        try:
                            # readinto1: what has arrived (at most one recv), so a timeout loses no counted byte
                            n = self._buffered.readinto1(buf[:min(left, len(buf))])
                        except (socket.timeout, TimeoutError):  # silent for REQUEST_TIMEOUT_S, or the deadline
                            stalled = True
                            break
                        except ConnectionError:  # (reset by the client: as closed)
                            break
                        if not n:
                            break
                        f.write(buf[:n])
                        left -= n
                if left > 0:
                    if not stalled:
                        why = "the connection closed"
                    elif self._reader.expired == "deadline":
                        why = f"the request took longer than {REQUEST_DEADLINE_S:g} s"
                    else:
                        why = f"nothing arrived for {REQUEST_TIMEOUT_S:g} s"
                    self._json(408 if stalled else 400, {"name": name, "error": (
                        f"The upload of {name} was cut short ({length - left} of {length} bytes: {why}).")})
                    return
                self.close_connection = False  # the whole body was read: the connection may go on
                self.linger_close = False
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:  # the temporary file's disk is full, ...: the body is not all read
                self.close_connection = self.linger_close = True
                self._json(500, {"name": name, "error": f"Cannot store {name} to convert it: {e.strerror or e}"})
                return
            finally:
                state.upload_done(path)
            answer = state.convert(name, data=data)
            del data
            self._json(422 if "error" in answer else 200, answer)

        def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
            """Every error the stdlib raises itself (a bad request line, headers too long, a method
            with no handler) as a short plain-text answer with our security headers, not the
            stdlib's HTML page; a method other than GET, HEAD and POST is a 405."""
            if code == 501:  # "Unsupported method": no do_<METHOD> here
                code, message = 405, "Method not allowed: this server answers GET, HEAD and POST"
            self.close_connection = True
            text = message or self.responses.get(code, ("Error",))[0]
            body = f"{code} {text}\n".encode("utf-8", "replace")
            self._send(code, body, "text/plain; charset=utf-8", head_only=self.command == "HEAD")

    return Handler


class _Server(_httpd.BoundedServer):
    """The viewer's server: :class:`_httpd.BoundedServer` with this module's limits as they are
    when it starts."""

    def __init__(self, server_address: Tuple[str, int], handler_class) -> None:
        super().__init__(server_address, handler_class, _limits(), name="fprofile-viewer",
                         busy_text=b"503 Too many connections to the viewer; try again.\n")

    def handle_error(self, request, client_address) -> None:
        # A client that went away mid-request is not worth a traceback on the terminal.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout)):
            return
        print(f"fprofile view: error while answering a request: {exc!r}", file=sys.stderr)


def _limits() -> _httpd.Limits:
    return _httpd.Limits(timeout_s=REQUEST_TIMEOUT_S, deadline_s=REQUEST_DEADLINE_S,
                         max_connections=MAX_CONNECTIONS, workers=WORKER_THREADS,
                         head_deadline_s=min(HEAD_DEADLINE_S, REQUEST_DEADLINE_S))


def serve(path: Optional[str] = None, port: Optional[int] = None, open_browser: bool = True, live: bool = False,
          last_s: Optional[float] = None, rewritten: bool = False) -> int:
    """Serve the viewer on 127.0.0.1 (a free port unless ``port``) until Ctrl-C; returns the exit code.

    ``path``: a trace to open at start-up (converted now; a file that is not a trace is reported in
    the page and on the terminal, and the server still runs). A streamed ``.fpt`` still being
    written is followed as it grows (``_follow``), and so is ``path`` with ``live`` (waiting for
    it to be written); ``last_s``: the page keeps its view on the last that many seconds."""
    state = _State()
    if path is not None and (live or _follow.is_open_stream(path)):
        name = os.path.basename(path) or path
        follower = _follow.Follower(path, name, lambda trace, done: state.publish_live(name, trace, done),
                                    rewritten=rewritten)
        if rewritten:  # `fprofile run --keep-last --live` says with SIGUSR1 that the last window is written
            import signal

            signal.signal(signal.SIGUSR1, lambda *_: follower.end())
        follower.poll()
        if follower.done and not live:  # a streamed file whose recording had ended: an ordinary view
            state.initial = {"name": name, **follower.published}
        else:
            state.live = follower
            state.initial = {"name": name, "live": "api/live", "last_s": last_s}
            print(f"fprofile view: following {path} while it is written", flush=True)
            follower.start()
    elif path is not None:
        name = os.path.basename(path) or path
        print(f"fprofile view: reading {path}", flush=True)
        bar = Progress(f"loading {name}")
        try:
            state.initial = state.convert(name, path=path, pin=True, progress=bar.update if bar.enabled else None)
        finally:
            bar.close()
        if "error" in state.initial:
            print(f"fprofile view: {state.initial['error']}", file=sys.stderr, flush=True)
    port_box = [0]
    try:
        server = _Server(("127.0.0.1", port or 0), _make_handler(state, port_box))
    except OSError as e:
        print(f"fprofile view: cannot listen on 127.0.0.1:{port or 0}: {e.strerror or e}", file=sys.stderr)
        return 1
    port_box[0] = server.server_address[1]
    url = f"http://127.0.0.1:{port_box[0]}/"
    print(f"fprofile viewer: {url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("fprofile viewer: stopped", flush=True)
    finally:
        server.server_close()
    return 0


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Open a trace in the standalone timeline viewer (a local page on 127.0.0.1; works offline).",
    )
    p.add_argument("input", nargs="?", metavar="FILE", help="trace to open (.fpt, PYME JSON or PYME raw text); without it, pick one in the page")
    p.add_argument("--port", type=int, metavar="N", help="port to serve on (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address without opening a browser")
    add_live_options(p)
    return p


def add_live_options(p: argparse.ArgumentParser) -> None:
    """``--live`` and ``--last S`` (of ``fprofile view`` and ``viewProfile``)."""
    p.add_argument("--live", action="store_true", help="follow FILE while a recording writes it, waiting for it to appear "
                   "(a streamed .fpt still being written is followed without it)")
    p.add_argument("--last", type=float, metavar="S", help="while following a recording, keep the view on its last S seconds")
    # (fprofile run --keep-last --live: FILE is rewritten with the flight recorder's window; SIGUSR1 ends it)
    p.add_argument("--rewritten", action="store_true", help=argparse.SUPPRESS)


def check_live_options(opts: argparse.Namespace) -> Optional[str]:
    """The problem with ``--live`` / ``--last`` as given, or None."""
    if opts.last is not None and not opts.last > 0:
        return f"--last must be a positive number of seconds, not {opts.last:g}"
    if opts.live and opts.input is None:
        return "--live needs FILE (the trace file a recording writes)"
    return None


def main(argv: Optional[Sequence[str]] = None, prog: str = "fprofile view") -> int:
    """Command line of the viewer: ``[FILE] [--port N] [--no-browser]``; returns the exit code."""
    opts = _parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
    if opts.port is not None and not 0 <= opts.port <= 65535:
        print(f"{prog}: --port must be between 0 and 65535, not {opts.port}", file=sys.stderr)
        return 2
    problem = check_live_options(opts)
    if problem is not None:
        print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    if opts.input is not None:
        if not os.path.exists(opts.input) and not opts.live:
            print(f"{prog}: {opts.input}: no such file", file=sys.stderr)
            return 2
        if os.path.isdir(opts.input):
            print(f"{prog}: {opts.input} is a directory, not a trace file", file=sys.stderr)
            return 2
    try:
        return serve(opts.input, opts.port, not opts.no_browser, live=opts.live, last_s=opts.last,
                     rewritten=opts.rewritten)
    except KeyboardInterrupt:  # Ctrl-C during start-up (a long conversion)
        print(f"{prog}: stopped", file=sys.stderr)
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
