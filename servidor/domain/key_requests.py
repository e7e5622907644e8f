"""Requests for a new admin or registration key left by `servidor chave nova` while the server
runs (servidor/store/inbox.py), carried out by a thread the app owns.

A request names the role and carries the new key's stored form (its public id and SHA-256):
the key itself stays with the command, which shows it once the answer says it is stored.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable, Mapping

from servidor.domain.auth import KEY_ID_BYTES, Role
from servidor.domain.errors import DomainError
from servidor.domain.keys import GLOBAL_ROLES, LABELS, KeyRing
from servidor.domain.meters import now_iso
from servidor.store.errors import StoreError
from servidor.store.inbox import Inbox

# How often the folder is looked at: a person waits on the command, and a listdir is cheap.
POLL_S = 0.5
_HEX = re.compile(r"[0-9a-f]+")
log = logging.getLogger("servidor")


def key_doc(request: dict[str, Any]) -> tuple[Role, dict[str, Any]]:
    """The role and the document to store, from a request; ValueError with the reason."""
    roles = {role.value: role for role in GLOBAL_ROLES}
    role = roles.get(request.get("papel"))  # type: ignore[arg-type]
    key_id, digest = request.get("id_chave"), request.get("hash")
    if role is None:
        raise ValueError(f"papel deve ser um de: {', '.join(roles)}")
    if not (isinstance(key_id, str) and len(key_id) == 2 * KEY_ID_BYTES and _HEX.fullmatch(key_id)):
        raise ValueError("id_chave inválido")
    if not (isinstance(digest, str) and len(digest) == 64 and _HEX.fullmatch(digest)):
        raise ValueError("hash inválido")
    return role, {"id_chave": key_id, "hash": digest, "papel": role.value, "medidor": None, "criado_em": now_iso()}


# Another kind of request (its "pedido" field names it, e.g. "backup") → what carries it out and
# returns the answer; an exception's message becomes the answer's "erro".
Handlers = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]


class KeyRequests:
    """Owns its thread: `start()` looks at the inbox every POLL_S, `stop()` ends and joins it.
    Requests naming a kind in `others` go to its handler; the rest are key requests."""

    def __init__(self, inbox: Inbox, keys: KeyRing, poll_s: float = POLL_S, others: Handlers | None = None) -> None:
        self._inbox = inbox
        self._keys = keys
        self._poll_s = poll_s
        self._others = dict(others or {})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pedidos-de-chave", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_once(self) -> None:
        for request_id, request in self._inbox.claim():
            handler = self._others.get(request.get("pedido")) if request is not None else None  # type: ignore[arg-type]
            if handler is not None:
                try:
                    answer = handler(request)
                except Exception as exc:  # noqa: BLE001 - the requester waits for an answer, whatever failed
                    log.error("pedido %s falhou: %s", request.get("pedido"), exc)
                    answer = {"ok": False, "erro": str(exc)}
                self._inbox.answer(request_id, answer)
                continue
            try:
                if request is None:
                    raise ValueError("pedido ilegível")
                role, doc = key_doc(request)
                self._keys.install_global(role, doc)
            except (ValueError, DomainError, StoreError) as exc:
                self._inbox.answer(request_id, {"ok": False, "erro": str(exc)})
                continue
            log.warning("chave de %s trocada por `servidor chave nova`; a anterior deixou de valer",
                        LABELS[role][0])
            self._inbox.answer(request_id, {"ok": True})

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.run_once()
            except Exception:
                log.exception("falha ao atender pedidos de chave")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
