"""Readiness for the selector thread, with one-shot interest so each connection has one owner.

A connection is watched for one event at a time ("armed"); when the event fires the poller stops
watching it, and whoever then owns the connection arms it again when it wants the next event.
Workers arm the connections they finish with themselves: on Linux that is one `epoll_ctl`
(safe while the selector thread waits in `epoll_wait`), so a keep-alive request costs the
selector thread one wakeup, not two. Elsewhere a worker's arm request is queued for the
selector thread, which applies it after a wakeup, as before.

Only the selector thread adds and removes descriptors, so the fd → object map has one writer.
"""
from __future__ import annotations

import select
import selectors
import socket
import threading
from abc import ABC, abstractmethod
from typing import Callable

READ = 1
WRITE = 2


class Poller(ABC):
    """The common interface; `make_poller()` picks the implementation."""

    @abstractmethod
    def add(self, sock: socket.socket, obj: object, interest: int) -> None:
        """Watch `sock` for one `interest` event (selector thread)."""
        ...

    @abstractmethod
    def add_permanent(self, sock: socket.socket, obj: object) -> None:
        """Watch `sock` for reads until removed, not one-shot (listener, wakeup)."""
        ...

    @abstractmethod
    def arm(self, sock: socket.socket, obj: object, interest: int) -> bool:
        """Watch an added socket for one more event (any thread); False once the poller is closed."""
        ...

    @abstractmethod
    def disarm(self, sock: socket.socket) -> None:
        """Stop watching without removing (selector thread)."""
        ...

    @abstractmethod
    def remove(self, sock: socket.socket) -> None:
        """Forget `sock` before it is closed (selector thread)."""
        ...

    @abstractmethod
    def poll(self, timeout: float) -> list[tuple[object, int]]:
        """(object, READ/WRITE bits) for each event; waits at most `timeout` seconds."""
        ...

    @abstractmethod
    def close(self) -> None:
        ...


class EpollPoller(Poller):
    _ONESHOT = select.EPOLLONESHOT if hasattr(select, "EPOLLONESHOT") else 0
    _MASKS = {READ: select.EPOLLIN | _ONESHOT, WRITE: select.EPOLLOUT | _ONESHOT} if hasattr(select, "epoll") else {}

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._objects: dict[int, object] = {}
        self._closed = False

    def add(self, sock: socket.socket, obj: object, interest: int) -> None:
        fd = sock.fileno()
        self._objects[fd] = obj
        self._epoll.register(fd, self._MASKS[interest])

    def add_permanent(self, sock: socket.socket, obj: object) -> None:
        fd = sock.fileno()
        self._objects[fd] = obj
        self._epoll.register(fd, select.EPOLLIN)

    def arm(self, sock: socket.socket, obj: object, interest: int) -> bool:
        try:
            self._epoll.modify(sock.fileno(), self._MASKS[interest])
            return True
        except (OSError, ValueError):
            # ValueError: the epoll object (or the socket) was closed at shutdown.
            return False

    def disarm(self, sock: socket.socket) -> None:
        try:
            self._epoll.modify(sock.fileno(), self._ONESHOT)
        except (OSError, ValueError):
            pass

    def remove(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        if fd < 0:
            return
        self._objects.pop(fd, None)
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass

    def poll(self, timeout: float) -> list[tuple[object, int]]:
        out = []
        get = self._objects.get
        for fd, mask in self._epoll.poll(timeout):
            obj = get(fd)
            if obj is None:
                continue
            # Errors and hang-ups count as readable: the next recv tells what happened.
            bits = (READ if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) else 0) | (
                WRITE if mask & (select.EPOLLOUT | select.EPOLLERR) else 0)
            out.append((obj, bits))
        return out

    def close(self) -> None:
        self._closed = True
        self._epoll.close()


class QueuedPoller(Poller):
    """Portable fallback over `selectors`: one-shot emulated by unregistering on each event,
    and arms from other threads queued for the selector thread, which `wake` interrupts."""

    _EVENTS = {READ: selectors.EVENT_READ, WRITE: selectors.EVENT_WRITE}

    def __init__(self, wake: Callable[[], None]) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake = wake
        self._lock = threading.Lock()
        self._pending: list[tuple[socket.socket, object, int]] = []
        self._permanent: set[int] = set()
        self._closed = False
        self._owner: threading.Thread | None = None

    def add(self, sock: socket.socket, obj: object, interest: int) -> None:
        self._selector.register(sock, self._EVENTS[interest], obj)

    def add_permanent(self, sock: socket.socket, obj: object) -> None:
        self._permanent.add(sock.fileno())
        self._selector.register(sock, selectors.EVENT_READ, obj)

    def arm(self, sock: socket.socket, obj: object, interest: int) -> bool:
        if threading.current_thread() is self._owner:
            return self._register(sock, obj, interest)
        with self._lock:
            if self._closed:
                return False
            self._pending.append((sock, obj, interest))
        self._wake()
        return True

    def _register(self, sock: socket.socket, obj: object, interest: int) -> bool:
        try:
            self._selector.register(sock, self._EVENTS[interest], obj)
            return True
        except (KeyError, ValueError, OSError):
            return False

    def disarm(self, sock: socket.socket) -> None:
        self.remove(sock)

    def remove(self, sock: socket.socket) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

    def poll(self, timeout: float) -> list[tuple[object, int]]:
        self._owner = threading.current_thread()
        with self._lock:
            pending, self._pending = self._pending, []
        for sock, obj, interest in pending:
            self._register(sock, obj, interest)
        out = []
        for key, events in self._selector.select(0 if pending else timeout):
            if key.fd not in self._permanent:
                self._selector.unregister(key.fileobj)
            out.append((key.data, (READ if events & selectors.EVENT_READ else 0)
                        | (WRITE if events & selectors.EVENT_WRITE else 0)))
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending.clear()
        self._selector.close()


class Waker:
    """A socket pair that interrupts the selector thread's poll from any thread."""

    def __init__(self) -> None:
        self.reader, self._writer = socket.socketpair()
        self.reader.setblocking(False)
        self._writer.setblocking(False)

    def wake(self) -> None:
        try:
            self._writer.send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass                           # the buffer is full: a wakeup is already pending
        except OSError:
            pass                           # closed: the selector thread has finished

    def drain(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        self.reader.close()
        self._writer.close()


def make_poller(wake: Callable[[], None]) -> Poller:
    """epoll with EPOLLONESHOT where there is one (Linux); the queued fallback elsewhere."""
    if hasattr(select, "epoll") and hasattr(select, "EPOLLONESHOT"):
        return EpollPoller()
    return QueuedPoller(wake)
