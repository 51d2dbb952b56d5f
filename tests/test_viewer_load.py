"""The standalone viewer under load (issue 19, item 6): real slow clients and real uploads.

- slowloris: 16 connections trickling their headers a byte every 2 s hold no worker: normal GETs
  are answered meanwhile (bounded generously, not timed), and the trickling ones are cut off at
  the head deadline with a 408;
- beyond the connection cap a client that sent its request reads a 503, not a connection reset;
- two concurrent large uploads: the second is read only once the first is converted, each body
  streamed to a temporary file (0600 in a 0700 directory, removed after): the viewer's peak RSS
  (``VmHWM`` of its process) grows by about one upload, not two (or four, with the copies);
- ``flame?threads=<a 20-digit number>`` is a 400, not a dropped connection.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import stat
import threading
import time

import pytest

from conftest import free_port
from test_viewer import _read_all, raw_get, start_quick_server  # noqa: F401 - start_quick_server: a fixture
from viewer_support import Viewer, make_trace, write_formats

linux_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")


def _status_kib(pid: int, field: str) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


# -- slowloris ---------------------------------------------------------------------------------------

def test_slowloris_does_not_hold_normal_requests():
    port = free_port()
    with Viewer(port) as v:
        stop = threading.Event()
        slow = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(16)]
        ended = {}

        def trickle(i, s):
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            start = time.monotonic()
            reply = b""
            while not stop.is_set():
                try:
                    s.sendall(b"a")
                except OSError:
                    break
                s.settimeout(2.0)  # a byte every 2 s, reading what the server says meanwhile
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                reply += data
            ended[i] = (time.monotonic() - start, reply)

        threads = [threading.Thread(target=trickle, args=(i, s), daemon=True) for i, s in enumerate(slow)]
        for t in threads:
            t.start()
        try:
            took = []
            for _ in range(6):  # over several of their bytes
                t0 = time.monotonic()
                status, _, body = raw_get(port, "/api/initial")
                took.append(time.monotonic() - t0)
                assert status == 200 and json.loads(body) == {}
                time.sleep(1.0)
            # answered promptly while 16 connections trickle (before: 12-90 s): a generous bound
            assert max(took) < 10, took
            for t in threads:  # the server cut every trickling connection off (head deadline, 5 s)
                t.join(60)
            assert len(ended) == 16
            for seconds, reply in ended.values():
                assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), reply[:100]
                assert seconds < 40, seconds  # well before the 60 s request deadline it had before
        finally:
            stop.set()
            for s in slow:
                s.close()
        print(f"GETs under 16 slow connections: {max(took) * 1000:.0f} ms at most")
        assert v.proc.poll() is None


# -- beyond the connection cap: a 503 the client reads -------------------------------------------------

def test_beyond_the_cap_a_client_that_sent_its_request_reads_the_503(start_quick_server):  # noqa: F811
    port, server, state = start_quick_server(MAX_CONNECTIONS=2, WORKER_THREADS=1, FREE_WORKERS=0,
                                             REQUEST_TIMEOUT_S=30.0, REQUEST_DEADLINE_S=60.0)
    assert state.conversions.acquire(timeout=10)  # the uploads below wait: every connection is busy
    busy = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(2)]
    try:
        for s in busy:
            s.sendall(f"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 4\r\n\r\n".encode())
        end = time.monotonic() + 30
        while server._ready.qsize() != 1 and time.monotonic() < end:  # one in the worker, one waits
            time.sleep(0.02)  # readiness of the server's queue, not a timed assertion
        assert server._ready.qsize() == 1
        body = b"x" * (8 << 20)  # more than the socket buffers take: unread, a close would reset
        for _ in range(5):  # as an HTTP client does: the whole request, then the answer
            status, headers, answer = raw_get(port, "/api/upload", method="POST", body=body,
                                              headers={"X-Fprofile-Filename": "late.fpt"})
            assert status == 503 and headers["Retry-After"] == "1", (status, answer)
            assert answer == b"503 Too many connections to the viewer; try again.\n"
    finally:
        state.conversions.release()
        for s in busy:
            s.sendall(b"FPRF")
    for s in busy:
        assert s.recv(100).startswith(b"HTTP/1.1 422")
        s.close()
    assert raw_get(port, "/")[0] == 200


# -- uploads: one at a time, streamed to a private file ---------------------------------------------

@linux_proc
def test_two_concurrent_large_uploads_peak_at_about_one():
    size = 256 << 20
    port = free_port()
    with Viewer(port) as v:
        pid = v.proc.pid
        base = _status_kib(pid, "VmHWM")
        body = bytes(size)  # zeros: not a trace (the point is the reading, not the conversion)

        def upload(name):
            conn_status, _, answer = raw_get(port, "/api/upload", method="POST", body=body,
                                             headers={"X-Fprofile-Filename": name})
            return conn_status, json.loads(answer)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(upload, ["a.fpt", "b.fpt"]))
        for status, info in answers:
            assert status == 422 and "is not a trace this viewer can read" in info["error"], (status, info)
        grown_mib = (_status_kib(pid, "VmHWM") - base) / 1024
        rss_mib = (_status_kib(pid, "VmRSS") - base) / 1024
        print(f"two concurrent {size >> 20} MiB uploads: the viewer's peak RSS grew by {grown_mib:.0f} MiB; "
              f"after them, RSS is {rss_mib:+.0f} MiB from the start's peak")
        # reading both whole takes 2 x 256 MiB (4 x with the joined copies): about one is held now
        assert grown_mib < 1.5 * (size >> 20), grown_mib
        assert rss_mib < 64, rss_mib  # freed after
        assert raw_get(port, "/")[0] == 200


@linux_proc
def test_an_upload_is_streamed_to_a_private_temporary_file(start_quick_server, tmp_path):  # noqa: F811
    port, server, state = start_quick_server(REQUEST_TIMEOUT_S=30.0, REQUEST_DEADLINE_S=60.0)
    data = open(write_formats(make_trace(), str(tmp_path))["fpt"], "rb").read()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(f"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(data)}\r\n"
                  "X-Fprofile-Filename: t.fpt\r\n\r\n".encode() + data[:10])
        found = None
        end = time.monotonic() + 30
        while found is None and time.monotonic() < end:  # the server has the file open while it reads
            for fd in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    continue
                if target.endswith(".upload"):
                    found = target
            time.sleep(0.02)
        assert found is not None
        st, folder = os.stat(found), os.stat(os.path.dirname(found))
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
        assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.getuid()
        assert os.path.basename(os.path.dirname(found)).startswith("fprofile-view-")
        s.sendall(data[10:])
        s.shutdown(socket.SHUT_WR)  # no further request: the server closes after its answer
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert "summary" in json.loads(reply.partition(b"\r\n\r\n")[2])
    # gone once converted, with its directory: nothing is left between uploads, even if the
    # server is killed later
    assert not os.path.exists(found) and not os.path.exists(os.path.dirname(found))
    server.shutdown()
    server.server_close()


# -- a flame request with a 20-digit thread index ------------------------------------------------------

def test_flame_with_a_huge_thread_index_is_a_400(start_quick_server, monkeypatch, tmp_path):  # noqa: F811
    from fprofile_jupyter import _windowed

    monkeypatch.setattr(_windowed, "WINDOWED_CALLS", 10)  # windowed: the server answers flame requests
    port, server, state = start_quick_server()
    answer = state.convert("t.fpt", path=write_formats(make_trace(), str(tmp_path))["fpt"])
    flame = answer["windowed"]["flame"]
    for threads in ["1" * 20, "99999999999999999999,0", "-1", "18446744073709551616"]:
        status, _, body = raw_get(port, f"/{flame}?threads={threads}")
        assert status == 400, (threads, status, body)
        assert json.loads(body)["error"].startswith("No flame graph: thread index "), body
    assert raw_get(port, f"/{flame}?threads=0")[0] == 200


def test_an_upload_that_cannot_be_stored_is_one_message(start_quick_server, monkeypatch):  # noqa: F811
    port, server, state = start_quick_server()

    def full():
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state, "upload_file", full)
    status, _, body = raw_get(port, "/api/upload", method="POST", body=b"FPRF" * 1000,
                              headers={"X-Fprofile-Filename": "big.fpt"})
    assert status == 500
    assert json.loads(body) == {"name": "big.fpt", "error": "Cannot store big.fpt to convert it: No space left on device"}
    assert raw_get(port, "/")[0] == 200


def test_at_the_cap_a_new_client_takes_the_slot_of_a_trickling_one(start_quick_server):  # noqa: F811
    """Every connection is trickling its headers: a new client is still answered (the one whose
    head has been arriving the longest is closed to make room), not told the server is full."""
    port, server, _ = start_quick_server(MAX_CONNECTIONS=4, REQUEST_TIMEOUT_S=30.0, REQUEST_DEADLINE_S=60.0)
    slow = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(4)]
    try:
        for s in slow:
            s.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        end = time.monotonic() + 30
        while len(server._heads) != 4 and time.monotonic() < end:  # the loop has read the four heads' starts
            time.sleep(0.02)  # readiness of the server's state, not a timed assertion
        assert len(server._heads) == 4
        for _ in range(3):
            assert raw_get(port, "/api/initial")[0] == 200
    finally:
        for s in slow:
            s.close()
