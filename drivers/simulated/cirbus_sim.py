"""A simulated Circutor CVMk answering CIRBUS requests on a pseudo-terminal."""
from __future__ import annotations

import threading
import time
from typing import Callable

from ..base import DeviceProtocolError
from ..cirbus import CirbusMap, FrameReader, build_reply, load_cirbus_map, parse_request
from .meter import MeterState, Profile
from .pty_peer import PtyPeer


class CirbusResponder:
    """`start()` returns the tty path to give the driver; `stop()` is an unplug and joins the thread.

    `reply_filter` rewrites each reply before it is sent (tests corrupt checksums, split or
    garble frames with it); returning b"" makes the device stay silent.
    """

    def __init__(self, profile: Profile, address: int = 1, *, modelo: str = "cvmk",
                 start_kwh: float = 1000.0, clock: Callable[[], float] = time.time,
                 reply_filter: Callable[[bytes], bytes] | None = None) -> None:
        self.map: CirbusMap = load_cirbus_map(modelo)
        self.address = address
        self.state = MeterState(profile, start_kwh, clock)
        self.reply_filter = reply_filter
        self.requests = 0
        self.malformed = 0
        self._reader = FrameReader()
        self._lock = threading.Lock()
        self._peer = PtyPeer(f"cirbus {modelo}", self._on_bytes, lambda: None)

    def start(self) -> str:
        return self._peer.start()

    def stop(self) -> None:
        self._peer.stop()

    def reply_for(self, command: str) -> bytes | None:
        """The reply frame to `command` given the current state, or None for unknown commands."""
        spec = next((c for c in self.map.commands if c.command == command), None)
        if spec is None:
            return None
        with self._lock:
            self.state.advance()
            values = self.state.values()
        raws = []
        for target in spec.targets:
            value = 0.0
            if target is not None:
                found = values.get(target.code, 0.0)
                value = found[target.phase or 0] if isinstance(found, tuple) else found
            limit = 10 ** spec.width - 1 if value >= 0 else 10 ** (spec.width - 1) - 1
            raws.append(max(-limit, min(limit, int(round(value / spec.factor)))))
        return build_reply(raws, spec.width)

    def _on_bytes(self, data: bytes) -> None:
        for frame in self._reader.feed(data):
            try:
                address, command = parse_request(frame)
            except DeviceProtocolError:
                self.malformed += 1  # a real device ignores a frame it cannot parse
                continue
            if address != self.address:
                continue  # addressed to another device on the bus
            self.requests += 1
            reply = self.reply_for(command)
            if reply is None:
                continue
            if self.reply_filter is not None:
                reply = self.reply_filter(reply)
            if reply:
                self._peer.write(reply)
