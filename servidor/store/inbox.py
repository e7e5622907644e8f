"""A folder beside the store where another process leaves requests for the running server.

`servidor chave nova` cannot write db.json while the server has it open (the server would write
its own copy over it), and the key it makes is what the user has lost, so it cannot use the API
either. Whoever may write this folder (the server's own user, as whoever may edit db.json while
it is stopped) leaves a request here; the server claims it, carries it out, and answers in the
same folder. Every step is a rename, so a request is done once, by one side:

    <id>.pedido    written whole (temp file + rename) by the requester
    <id>.aceito    renamed by the server when it claims it (the requester can no longer withdraw)
    <id>.resposta  the server's answer, written whole; the requester reads and removes it

A requester that gives up renames `.pedido` away first: if that fails, the server has claimed
it and its answer will come. Only hashes travel here, never a key.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from shared.durable import write_atomic

REQUEST = ".pedido"
CLAIMED = ".aceito"
ANSWER = ".resposta"
# A request or answer is a few hundred bytes; anything larger is not one of ours.
MAX_FILE_BYTES = 64 * 1024
# How often a waiting requester looks for its answer.
POLL_S = 0.05


def inbox_dir(db_path: Path) -> Path:
    """db.json → db.pedidos/, beside the readings (db.leituras/)."""
    return db_path.with_name(db_path.stem + ".pedidos")


class Inbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # -- the requester's side --------------------------------------------------------------------

    def submit(self, request: dict[str, Any]) -> str:
        """Leave `request`; returns its id. Readable by the owner only (it names a key's hash)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        request_id = uuid.uuid4().hex
        write_atomic(self.directory / f"{request_id}{REQUEST}", json.dumps(request).encode(), mode=0o600)
        return request_id

    def withdraw(self, request_id: str) -> bool:
        """Take back an unclaimed request: True if it is gone unanswered, False if the server
        claimed it first (its answer will come)."""
        try:
            os.unlink(self.directory / f"{request_id}{REQUEST}")
        except FileNotFoundError:
            return False
        return True

    def wait(self, request_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The server's answer, or None if none came within `timeout_s`."""
        path = self.directory / f"{request_id}{ANSWER}"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                answer = _read(path)
            except FileNotFoundError:
                if time.monotonic() >= deadline:
                    return None
                time.sleep(POLL_S)
                continue
            path.unlink(missing_ok=True)
            return answer

    # -- the server's side ---------------------------------------------------------------------

    def claim(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Every waiting request, claimed: (id, request), or (id, None) for a file that is not a
        readable request (it is answered with an error, never left to be retried forever)."""
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []
        claimed = []
        for name in names:
            if not name.endswith(REQUEST):
                continue
            request_id = name[: -len(REQUEST)]
            target = self.directory / f"{request_id}{CLAIMED}"
            try:
                os.rename(self.directory / name, target)
            except FileNotFoundError:  # withdrawn meanwhile
                continue
            try:
                claimed.append((request_id, _read(target)))
            except (OSError, ValueError):
                claimed.append((request_id, None))
        return claimed

    def answer(self, request_id: str, answer: dict[str, Any]) -> None:
        write_atomic(self.directory / f"{request_id}{ANSWER}", json.dumps(answer).encode(), mode=0o600)
        (self.directory / f"{request_id}{CLAIMED}").unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("grande demais")
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise ValueError("não é um objeto JSON")
    return doc
