"""A small HTTP server that hostile or broken clients cannot hold (stdlib ``http.server``
underneath): used by the standalone viewer (``_viewer``).

- One thread (the loop of :class:`BoundedServer`) accepts connections and waits on the idle ones
  (new, or kept alive between requests) with a selector, so an idle connection costs no thread; it
  is closed after ``Limits.timeout_s`` of silence. A connection with something to read goes to one
  of ``Limits.workers`` threads: the server has that many threads + its loop, however many
  connections are open.
- At most ``Limits.max_connections`` connections are open: a new one beyond it closes the
  connection idle the longest, or, when none is idle, is answered at once with a short 503.
- :class:`DeadlineReader` under a handler's ``rfile``: a request (request line, headers and body)
  must arrive within ``Limits.deadline_s`` of its first byte, each read waiting at most
  ``Limits.timeout_s``.

A handler that keeps its connection open sets ``keep_alive = True`` on itself; the server then
waits on the connection again (see ``_viewer``'s handler).
"""
from __future__ import annotations

import http.server
import io
import queue
import selectors
import socket
import threading
import time
from collections import OrderedDict, deque
from typing import Deque, NamedTuple, Optional, Tuple, cast

NS_PER_S = 1_000_000_000


class Limits(NamedTuple):
    """What one server allows: seconds of silence, seconds per request, connections, worker threads."""

    timeout_s: float
    deadline_s: float
    max_connections: int
    workers: int


class DeadlineReader(io.RawIOBase):
    """The socket as the raw stream under a handler's ``rfile``: every read (the stdlib's reads of
    the request line and headers included) waits at most ``limits.timeout_s`` for data and never
    past the request's deadline, so a client that trickles bytes is cut off at the deadline."""

    def __init__(self, sock: socket.socket, limits: "Limits") -> None:
        super().__init__()
        self._sock = sock
        self._limits = limits
        self.deadline_ns: Optional[int] = None
        #: what ended the last read that timed out: "deadline" or "silence"
        self.expired = ""
        #: True: a read returns "nothing yet" without touching the socket (see ``Handler.handle``)
        self.probing = False

    def start_request(self) -> None:
        self.deadline_ns = time.monotonic_ns() + int(self._limits.deadline_s * NS_PER_S)
        self.expired = ""

    def left_ns(self) -> int:
        """Nanoseconds until the deadline of the current request."""
        if self.deadline_ns is None:
            return int(self._limits.deadline_s * NS_PER_S)
        return self.deadline_ns - time.monotonic_ns()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> Optional[int]:  # type: ignore[override]
        if self.probing:
            return None
        left_ns = self.left_ns()
        silence_ns = int(self._limits.timeout_s * NS_PER_S)
        if left_ns <= 0:
            self.expired = "deadline"
            raise socket.timeout("the request deadline passed")  # TimeoutError from Python 3.10
        self._sock.settimeout(min(left_ns, silence_ns) / NS_PER_S)
        try:
            return self._sock.recv_into(buffer)
        except socket.timeout:
            self.expired = "deadline" if left_ns <= silence_ns else "silence"
            raise


def _busy_reply(text: bytes) -> bytes:
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s" % (len(text), text))


class BoundedServer(http.server.HTTPServer):
    """An HTTP server whose threads and connections are bounded: one loop thread accepts
    connections and waits on the idle ones; ``limits.workers`` threads read and answer requests
    (see the module docstring).

    ``serve_forever`` runs the loop; ``shutdown`` (from another thread) stops it and waits."""

    allow_reuse_address = False
    request_queue_size = 64  # the listen backlog: a burst of connections waits for the loop

    def __init__(self, server_address: Tuple[str, int], handler_class, limits: Limits, name: str = "httpd",
                 busy_text: bytes = b"503 Too many connections; try again.\n") -> None:
        # all set before binding: a failed bind calls server_close()
        self._lock = threading.Lock()
        self._open = 0  # connections open (idle, waiting for a worker, or being answered)
        self._returned: Deque[Tuple[socket.socket, object]] = deque()  # kept alive by a worker
        self._ready: "queue.Queue[Optional[Tuple[socket.socket, object]]]" = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self.limits = limits
        self._busy = _busy_reply(busy_text)
        self._max_connections = limits.max_connections
        self._workers = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(limits.workers)]
        super().__init__(server_address, handler_class)

    # -- the loop thread ----------------------------------------------------------------------------
    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        self._stop.clear()
        for w in self._workers:
            if not w.is_alive():
                w.start()
        self.socket.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(self.socket, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        idle: "OrderedDict[socket.socket, Tuple[int, object]]" = OrderedDict()  # oldest first
        silence_ns = int(self.limits.timeout_s * NS_PER_S)
        try:
            while not self._stop.is_set():
                timeout_s = poll_interval
                if idle:
                    since_ns, _ = next(iter(idle.values()))
                    timeout_s = min(timeout_s, max(0, since_ns + silence_ns - time.monotonic_ns()) / NS_PER_S)
                for key, _ in sel.select(timeout_s):
                    if key.data == "accept":
                        self._accept(sel, idle)
                    elif key.data == "wake":
                        self._take_returned(sel, idle)
                    else:  # an idle connection has something to read (or was closed): a worker
                        sock = cast(socket.socket, key.fileobj)
                        if sock not in idle:
                            # closed earlier in this same batch: evicted by _accept to make room
                            continue
                        sel.unregister(sock)
                        _, address = idle.pop(sock)
                        self._ready.put((sock, address))
                now_ns = time.monotonic_ns()
                while idle:  # silent too long: closed
                    sock, (since_ns, _) = next(iter(idle.items()))
                    if now_ns - since_ns < silence_ns:
                        break
                    del idle[sock]
                    sel.unregister(sock)
                    self._close(sock)
        finally:
            for sock in list(idle):
                sel.unregister(sock)
                self._close(sock)
            sel.close()
            self._stopped.set()

    def _accept(self, sel: selectors.BaseSelector, idle: "OrderedDict[socket.socket, Tuple[int, object]]") -> None:
        for _ in range(64):  # what is waiting, a bounded batch per turn
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, a connection reset while queued: next time
                return
            with self._lock:
                evict = None
                if self._open >= self._max_connections and idle:
                    evict = next(iter(idle))  # the connection idle the longest makes room
                    del idle[evict]
                admitted = self._open < self._max_connections or evict is not None
                if admitted and evict is None:
                    self._open += 1
            if evict is not None:
                sel.unregister(evict)
                self._shut(evict)  # its slot passes to the new connection
            if not admitted:
                self._refuse(sock)
                continue
            sock.setblocking(True)
            sel.register(sock, selectors.EVENT_READ, "connection")
            idle[sock] = (time.monotonic_ns(), address)

    def _take_returned(self, sel: selectors.BaseSelector, idle: "OrderedDict[socket.socket, Tuple[int, object]]") -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while True:
            with self._lock:
                if not self._returned:
                    return
                sock, address = self._returned.popleft()
            sel.register(sock, selectors.EVENT_READ, "connection")
            idle[sock] = (time.monotonic_ns(), address)

    def _refuse(self, sock: socket.socket) -> None:
        """A short 503, without waiting (the send buffer of a new connection has room), then closed."""
        try:
            sock.setblocking(False)
            sock.send(self._busy)
        except OSError:
            pass
        BoundedServer._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()

    def _close(self, sock: socket.socket) -> None:
        self._shut(sock)
        with self._lock:
            self._open -= 1

    # -- the workers ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._ready.get()
            if item is None:
                return
            sock, address = item
            keep_alive = False
            try:
                handler = self.RequestHandlerClass(sock, address, self)  # type: ignore[arg-type]
                keep_alive = bool(getattr(handler, "keep_alive", False)) and not self._stop.is_set()
            except Exception:
                self.handle_error(sock, address)
            if not keep_alive:
                self._close(sock)
                continue
            with self._lock:
                self._returned.append((sock, address))
            try:
                self._wake_w.send(b"x")
            except (BlockingIOError, InterruptedError):
                pass  # the loop has wake-ups pending already

    def shutdown(self) -> None:
        """Stops ``serve_forever`` (called from another thread) and waits until it has returned."""
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._stopped.wait()

    def server_close(self) -> None:
        self._stop.set()
        for _ in self._workers:
            self._ready.put(None)  # workers end after their current request
        super().server_close()
        with self._lock:
            returned = list(self._returned)
            self._returned.clear()
        for sock, _ in returned:
            self._close(sock)
        self._wake_r.close()
        self._wake_w.close()
