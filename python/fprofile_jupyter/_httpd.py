"""A small HTTP server that hostile or broken clients cannot hold (stdlib ``http.server``
underneath): used by the standalone viewer (``_viewer``).

- One thread (the loop of :class:`BoundedServer`) accepts connections and waits on the idle ones
  (new, or kept alive between requests) with a selector, so an idle connection costs no thread; it
  is closed after ``Limits.timeout_s`` of silence.
- The loop also reads each request's head (request line and headers) itself, without blocking, as
  its bytes arrive: a head must be complete within ``Limits.head_deadline_s`` of its first byte
  (else a 408 and the connection is closed) and hold at most ``Limits.max_head_bytes`` (else a
  431). So a client that trickles its headers (slowloris) holds no thread, only a connection.
- A connection whose head is complete goes to one of ``Limits.workers`` threads, which reads the
  body (if any) and answers: the server has that many threads + its loop, however many connections
  are open.
- At most ``Limits.max_connections`` connections are open: a new one beyond it closes the
  connection idle the longest, else the one whose head has been arriving the longest (a slot is
  kept for new clients), or, when every connection is being answered or waits for a worker, gets a
  short 503. Every answer the loop gives itself (503, 408, 431) is followed by a lingering close:
  the connection's input is read and dropped for up to :data:`LINGER_S` so the client reads the
  answer instead of a connection reset.
- :class:`DeadlineReader` under a handler's ``rfile`` (the connection's ``makefile("rb")``): it
  first gives the head the loop read, then the socket; a request must arrive within
  ``Limits.deadline_s`` of its first byte, each read waiting at most ``Limits.timeout_s``.

A handler that keeps its connection open sets ``keep_alive = True`` on itself (and ``leftover``:
bytes of the next request it has already read); the server then waits on the connection again (see
``_viewer``'s handler). One that answered and left a body unread sets ``linger_close = True``: the
loop closes the connection lingering, as above.
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


#: Seconds the loop keeps reading (and dropping) what a client sends after it answered it itself
#: (503, 408, 431) and before it closes: the client reads the answer, not a connection reset.
LINGER_S = 2.0
#: Connections in that lingering close at once (beyond: closed at once).
MAX_LINGERING = 64


class Limits(NamedTuple):
    """What one server allows: seconds of silence, seconds per request, connections, worker
    threads, seconds and bytes for a request's head (request line and headers)."""

    timeout_s: float
    deadline_s: float
    max_connections: int
    workers: int
    head_deadline_s: float = 5.0
    max_head_bytes: int = 64 * 1024


class DeadlineReader(io.RawIOBase):
    """The socket as the raw stream under a handler's ``rfile``: every read (the stdlib's reads of
    the request line and headers included) waits at most ``limits.timeout_s`` for data and never
    past the request's deadline, so a client that trickles bytes is cut off at the deadline."""

    def __init__(self, sock: socket.socket, limits: "Limits", head: bytes = b"") -> None:
        super().__init__()
        self._sock = sock
        self._head = memoryview(head)  # what the server's loop read already: given first
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
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
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


class Connection:
    """A connection as a handler sees it (``self.request``): the socket, whose ``makefile("rb")``
    is a :class:`DeadlineReader` that starts with the head the loop read. ``reader`` is that
    reader (set by ``makefile``)."""

    def __init__(self, sock: socket.socket, limits: Limits, head: bytes) -> None:
        self._sock = sock
        self._limits = limits
        self._head = head
        self.reader: Optional[DeadlineReader] = None

    def makefile(self, mode: str = "r", buffering: Optional[int] = None, **kwargs):  # type: ignore[no-untyped-def]
        if "r" not in mode:
            return self._sock.makefile(mode, buffering if buffering is not None else -1, **kwargs)
        self.reader = DeadlineReader(self._sock, self._limits, self._head)
        self._head = b""
        return io.BufferedReader(self.reader)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._sock, name)


def _head_end(buf: bytearray) -> int:
    """The length of the request head at the start of ``buf`` (through the empty line that ends
    the headers), or -1 while it is incomplete."""
    for sep in (b"\n\r\n", b"\n\n"):
        i = buf.find(sep)
        if i >= 0:
            return i + len(sep)
    return -1


def _short_reply(status: bytes, text: bytes, retry: bool = False) -> bytes:
    return (b"HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n%s"
            b"Connection: close\r\n\r\n%s" % (status, len(text), b"Retry-After: 1\r\n" if retry else b"", text))


def _busy_reply(text: bytes) -> bytes:
    return _short_reply(b"503 Service Unavailable", text, retry=True)


_HEAD_TIMEOUT = _short_reply(b"408 Request Timeout", b"408 The request line and headers took too long.\n")
_HEAD_TOO_LARGE = _short_reply(b"431 Request Header Fields Too Large", b"431 The request's headers are too large.\n")


class _Head:
    """A request head being read by the loop."""

    __slots__ = ("buf", "deadline_ns", "address")

    def __init__(self, buf: bytes, deadline_ns: int, address: object) -> None:
        self.buf = bytearray(buf)
        self.deadline_ns = deadline_ns
        self.address = address


class BoundedServer(http.server.HTTPServer):
    """An HTTP server whose threads and connections are bounded: one loop thread accepts
    connections, waits on the idle ones and reads request heads; ``limits.workers`` threads read
    bodies and answer requests (see the module docstring).

    ``serve_forever`` runs the loop; ``shutdown`` (from another thread) stops it and waits."""

    allow_reuse_address = False
    request_queue_size = 64  # the listen backlog: a burst of connections waits for the loop

    def __init__(self, server_address: Tuple[str, int], handler_class, limits: Limits, name: str = "httpd",
                 busy_text: bytes = b"503 Too many connections; try again.\n") -> None:
        # all set before binding: a failed bind calls server_close()
        self._lock = threading.Lock()
        self._open = 0  # connections open (idle, reading a head, waiting for a worker, or being answered)
        # kept alive by a worker (with the next request's bytes it read), or to close lingering (None)
        self._returned: Deque[Tuple[socket.socket, object, Optional[bytes]]] = deque()
        self._ready: "queue.Queue[Optional[Tuple[socket.socket, object, bytes]]]" = queue.Queue()
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
        # the loop's own state (only the loop thread touches it)
        self._idle: "OrderedDict[socket.socket, Tuple[int, object]]" = OrderedDict()  # oldest first
        self._heads: "OrderedDict[socket.socket, _Head]" = OrderedDict()  # first byte oldest first
        self._lingering: "OrderedDict[socket.socket, int]" = OrderedDict()  # -> when to close (ns)
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
        idle, heads, lingering = self._idle, self._heads, self._lingering
        silence_ns = int(self.limits.timeout_s * NS_PER_S)
        try:
            while not self._stop.is_set():
                timeout_s = poll_interval
                now_ns = time.monotonic_ns()
                if idle:
                    since_ns, _ = next(iter(idle.values()))
                    timeout_s = min(timeout_s, max(0, since_ns + silence_ns - now_ns) / NS_PER_S)
                if heads:
                    timeout_s = min(timeout_s, max(0, next(iter(heads.values())).deadline_ns - now_ns) / NS_PER_S)
                if lingering:
                    timeout_s = min(timeout_s, max(0, next(iter(lingering.values())) - now_ns) / NS_PER_S)
                for key, _ in sel.select(timeout_s):
                    if key.data == "accept":
                        self._accept(sel)
                    elif key.data == "wake":
                        self._take_returned(sel)
                    else:
                        sock = cast(socket.socket, key.fileobj)
                        if sock in lingering:
                            self._drain(sel, sock)
                        elif sock in idle or sock in heads:
                            self._read_head(sel, sock)
                        # else: closed earlier in this same batch (evicted by _accept to make room)
                now_ns = time.monotonic_ns()
                while idle:  # silent too long: closed
                    sock, (since_ns, _) = next(iter(idle.items()))
                    if now_ns - since_ns < silence_ns:
                        break
                    del idle[sock]
                    sel.unregister(sock)
                    self._close(sock)
                while heads:  # a head not complete in time: a 408
                    sock, head = next(iter(heads.items()))
                    if now_ns < head.deadline_ns:
                        break
                    del heads[sock]
                    sel.unregister(sock)
                    self._answer_and_close(sel, sock, _HEAD_TIMEOUT)
                while lingering:
                    sock, until_ns = next(iter(lingering.items()))
                    if now_ns < until_ns:
                        break
                    del lingering[sock]
                    sel.unregister(sock)
                    sock.close()
        finally:
            for sock in list(idle) + list(heads):
                sel.unregister(sock)
                self._close(sock)
            idle.clear()
            heads.clear()
            for sock in list(lingering):
                sel.unregister(sock)
                sock.close()
            lingering.clear()
            sel.close()
            self._stopped.set()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        for _ in range(64):  # what is waiting, a bounded batch per turn
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, a connection reset while queued: next time
                return
            with self._lock:
                evict = None
                if self._open >= self._max_connections:
                    # the connection idle the longest makes room, else the one whose head has been
                    # arriving the longest: a slot for a new client while others trickle bytes
                    if self._idle:
                        evict = next(iter(self._idle))
                        del self._idle[evict]
                    elif self._heads:
                        evict = next(iter(self._heads))
                        del self._heads[evict]
                admitted = self._open < self._max_connections or evict is not None
                if admitted and evict is None:
                    self._open += 1
            if evict is not None:
                sel.unregister(evict)
                self._shut(evict)  # its slot passes to the new connection
            if not admitted:
                self._linger(sel, sock, self._busy)
                continue
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, "connection")
            self._idle[sock] = (time.monotonic_ns(), address)

    def _read_head(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        """What arrived on a connection waiting for (the rest of) a request head, without
        blocking; a complete head goes to a worker."""
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        head = self._heads.get(sock)
        if not data:  # the client closed (or reset) the connection
            self._idle.pop(sock, None)
            self._heads.pop(sock, None)
            sel.unregister(sock)
            self._close(sock)
            return
        if head is None:
            _, address = self._idle.pop(sock)
            head = self._heads[sock] = _Head(b"", time.monotonic_ns() + int(self.limits.head_deadline_s * NS_PER_S),
                                             address)
        head.buf += data
        self._head_arrived(sel, sock, head)

    def _head_arrived(self, sel: selectors.BaseSelector, sock: socket.socket, head: _Head) -> None:
        end = _head_end(head.buf)
        if end < 0 and len(head.buf) <= self.limits.max_head_bytes:
            return  # more to come
        del self._heads[sock]
        sel.unregister(sock)
        if end < 0 or end > self.limits.max_head_bytes:
            self._answer_and_close(sel, sock, _HEAD_TOO_LARGE)
            return
        sock.setblocking(True)
        self._ready.put((sock, head.address, bytes(head.buf)))

    def _answer_and_close(self, sel: selectors.BaseSelector, sock: socket.socket, reply: bytes) -> None:
        """A short answer from the loop to a counted connection, then its lingering close."""
        with self._lock:
            self._open -= 1
        self._linger(sel, sock, reply)

    def _linger(self, sel: selectors.BaseSelector, sock: socket.socket, reply: bytes) -> None:
        """``reply`` without waiting (the send buffer has room for a short one), then the input is
        read and dropped for up to LINGER_S before the socket closes (see the module docstring)."""
        try:
            sock.setblocking(False)
            sock.send(reply)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if len(self._lingering) >= MAX_LINGERING:
            sock.close()
            return
        sel.register(sock, selectors.EVENT_READ, "linger")
        self._lingering[sock] = time.monotonic_ns() + int(LINGER_S * NS_PER_S)

    def _drain(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        try:
            if sock.recv(65536):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        del self._lingering[sock]  # the client closed: so do we
        sel.unregister(sock)
        sock.close()

    def _take_returned(self, sel: selectors.BaseSelector) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while True:
            with self._lock:
                if not self._returned:
                    return
                sock, address, leftover = self._returned.popleft()
            if leftover is None:
                self._answer_and_close(sel, sock, b"")
                continue
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, "connection")
            if not leftover:
                self._idle[sock] = (time.monotonic_ns(), address)
                continue
            # the start of the next request came with the last one: its head's deadline runs now
            head = self._heads[sock] = _Head(leftover, time.monotonic_ns() + int(self.limits.head_deadline_s * NS_PER_S),
                                             address)
            self._head_arrived(sel, sock, head)

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
            sock, address, head = item
            keep_alive = linger = False
            leftover: Optional[bytes] = b""
            try:
                handler = self.RequestHandlerClass(Connection(sock, self.limits, head), address, self)  # type: ignore[arg-type]
                keep_alive = bool(getattr(handler, "keep_alive", False)) and not self._stop.is_set()
                leftover = bytes(getattr(handler, "leftover", b"") or b"")
                linger = bool(getattr(handler, "linger_close", False)) and not self._stop.is_set()
            except Exception:
                self.handle_error(sock, address)
            if linger and not keep_alive:
                leftover = None  # answered, a body left unread: the loop closes it, lingering
            elif not keep_alive:
                self._close(sock)
                continue
            with self._lock:
                self._returned.append((sock, address, leftover))
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
        for sock, _, _ in returned:
            self._close(sock)
        self._wake_r.close()
        self._wake_w.close()
