"""API keys: made at random, stored only as hashes, compared in constant time.

Roles: the admin key sees everything; the registration key only creates meters; each meter has
a write key (its agent's) and a read key (its owner's). `Authorization: Bearer <key>`.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from enum import Enum

from servidor.errors import Forbidden, Unauthorized

# 32 random bytes: guessing is hopeless, so a fast hash (SHA-256) is enough; no slow KDF needed
# for keys that are not human-chosen passwords.
KEY_BYTES = 32
# The public part of a meter key: 8 bytes, enough to be unique among any number of meters here.
KEY_ID_BYTES = 8


class Role(Enum):
    ADMIN = "admin"
    REGISTRATION = "registro"
    WRITE = "escrita"
    READ = "leitura"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    meter_id: str | None = None

    def can_read(self, meter_id: str) -> bool:
        return self.role is Role.ADMIN or (
            self.role in (Role.READ, Role.WRITE) and self.meter_id == meter_id
        )

    def can_write(self, meter_id: str) -> bool:
        return self.role is Role.ADMIN or (self.role is Role.WRITE and self.meter_id == meter_id)


def new_key(prefix: str) -> tuple[str, str]:
    """A fresh key and its public id. The key reads `<prefix>_<id>_<secret>`, like GitHub tokens:
    the id finds the stored hash without a search, the secret is what is checked."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    return f"{prefix}_{key_id}_{secrets.token_urlsafe(KEY_BYTES)}", key_id


def key_id_of(key: str) -> str | None:
    parts = key.split("_", 2)
    return parts[1] if len(parts) == 3 and len(parts[1]) == 2 * KEY_ID_BYTES else None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """Key hashes → principals, in memory; the document store keeps the hashes durable.

    Admin and registration keys may be any string (they come from the environment), so they
    are checked by comparing hashes; meter keys are found by their public id first.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, tuple[str, Principal]] = {}
        self._global: list[tuple[str, Principal]] = []
        self._lock = threading.Lock()

    def add_global(self, key_hash: str, principal: Principal) -> None:
        with self._lock:
            self._global.append((key_hash, principal))

    def add(self, key_id: str, key_hash: str, principal: Principal) -> None:
        with self._lock:
            self._by_id[key_id] = (key_hash, principal)

    def remove_meter(self, meter_id: str) -> None:
        with self._lock:
            for key_id in [k for k, (_, p) in self._by_id.items() if p.meter_id == meter_id]:
                del self._by_id[key_id]

    def identify(self, authorization: str | None) -> Principal | None:
        """The principal of an `Authorization: Bearer` header, None when absent; 401 when unknown."""
        if authorization is None:
            return None
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("use o cabeçalho Authorization: Bearer <chave>")
        digest = hash_key(key)
        found: Principal | None = None
        with self._lock:
            # compare_digest on every global key, not stopping at a match: constant time.
            for stored, principal in self._global:
                if hmac.compare_digest(stored, digest):
                    found = principal
            key_id = key_id_of(key)
            entry = self._by_id.get(key_id) if key_id else None
        if entry is not None and hmac.compare_digest(entry[0], digest):
            found = entry[1]
        if found is None:
            raise Unauthorized("chave desconhecida ou revogada")
        return found


def require(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("esta rota precisa de uma chave: Authorization: Bearer <chave>")
    return principal


def require_read(principal: Principal | None, meter_id: str) -> Principal:
    principal = require(principal)
    if not principal.can_read(meter_id):
        raise Forbidden(f"esta chave não dá acesso ao medidor {meter_id}")
    return principal


def require_write(principal: Principal | None, meter_id: str) -> Principal:
    principal = require(principal)
    if not principal.can_write(meter_id):
        raise Forbidden(f"esta rota precisa da chave de escrita do medidor {meter_id} ou da chave de administração")
    return principal


def require_admin(principal: Principal | None) -> Principal:
    principal = require(principal)
    if principal.role is not Role.ADMIN:
        raise Forbidden("esta rota precisa da chave de administração")
    return principal
