"""A trace of hundreds of threads, and what its HTML export and widget payload weigh.

A thread-per-request server (the standard library's ``ThreadingHTTPServer``) serves 300 ``urllib``
requests from 8 client threads, recorded with ``subs=["http", "urllib", "socketserver"]`` (issue
11's case: about 310 threads, most named ``Thread-N (process_request_thread)``). Then it writes
the trace (``.fpt``) and its HTML export and prints their sizes: the export split into the trace
(base64), the embedded summary JSON and the rest (the page's script and styles), and the widget's
payload (the ``data`` bytes and the ``summary`` text).

    .venv/bin/python benchmarks/bench_many_threads.py [-o out/many_threads.fpt] [--requests 300] [--clients 8]

The tests use ``make_trace`` (tests/test_timeline_threads.py).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fprofile_jupyter as fprofile


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = json.dumps({"path": self.path, "ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def serve_requests(requests: int = 300, clients: int = 8) -> None:
    """Serve `requests` GETs from `clients` client threads (one server thread per request)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, name="server", kwargs={"poll_interval": 0.05})
    serving.start()
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/item/{i}", timeout=30) as r:
                json.loads(r.read())

    threads = [threading.Thread(target=client, name=f"client-{k}") for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.shutdown()
    serving.join()
    server.server_close()


def make_trace(requests: int = 300, clients: int = 8):
    """The recorded trace of `serve_requests`."""
    with fprofile.profile(subs=["http", "urllib", "socketserver"]) as prof:
        serve_requests(requests, clients)
    return prof.trace


def export_parts(html: str) -> dict:
    """The sizes (bytes, UTF-8) of an HTML export: whole, trace (base64), summary JSON, the rest."""
    def element(id_: str) -> int:
        m = re.search(rf'<script[^>]*id="{id_}">(.*?)</script>', html, re.S)
        return len(m.group(1).encode()) if m else 0
    whole = len(html.encode())
    data = element("fprofile-data")
    summary = element("fprofile-summary")
    return {"html": whole, "trace_base64": data, "summary_json": summary, "rest": whole - data - summary}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default="out/many_threads.fpt")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--clients", type=int, default=8)
    opts = ap.parse_args()
    out = Path(opts.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    trace = make_trace(opts.requests, opts.clients)
    trace.save(str(out))
    html_path = out.with_suffix(".html")
    trace.save(str(html_path))
    parts = export_parts(html_path.read_text(encoding="utf-8"))
    from fprofile_jupyter._widget import TimelineWidget

    payload = TimelineWidget.payload(trace)
    print(f"trace: {len(trace):,} calls, {len(trace.threads)} threads, {out.stat().st_size:,} bytes ({out})")
    print(f"HTML export: {parts['html']:,} bytes ({html_path}): trace (base64) {parts['trace_base64']:,}, "
          f"summary JSON {parts['summary_json']:,}, script, styles and markup {parts['rest']:,}")
    print(f"widget payload: data {len(payload['data']):,} bytes, summary {len(payload['summary'].encode()):,} bytes")
    print(f"full summary JSON (trace.summary_json()): {len(trace.summary_json().encode()):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
