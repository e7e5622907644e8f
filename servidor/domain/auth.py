"""Who may do what: roles, the caller's identity, the permission rules and the keys' format.

Roles: the admin key sees everything; the registration key only creates meters; each meter has
a write key (its agent's) and a read key (its owner's); a Tesla Analyzer acquisition node has a
node key for the central routes (/ws/v2/history/…) of its own meters. `Authorization: Bearer <key>`.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import Enum

from servidor.domain.errors import Forbidden, Unauthenticated

# 32 random bytes: the secret part of every key the server makes.
KEY_BYTES = 32
# The public part of a key: 8 bytes, enough to be unique among any number of meters here.
KEY_ID_BYTES = 8


class Role(Enum):
    ADMIN = "admin"
    REGISTRATION = "registro"
    WRITE = "escrita"
    READ = "leitura"
    NODE = "no"   # Principal.meter_id holds the node id


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    meter_id: str | None = None
    site_id: str | None = None  # a site's read key (servidor/domain/sites.py) reads that site

    def can_read(self, meter_id: str) -> bool:
        return self.role is Role.ADMIN or (
            self.role in (Role.READ, Role.WRITE) and self.meter_id == meter_id
        )

    def can_read_site(self, site_id: str) -> bool:
        return self.role is Role.ADMIN or (self.role is Role.READ and self.site_id == site_id)

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
    """SHA-256 of a key the server made: 256 random bits cannot be guessed, so a slow KDF would
    only slow every request (keys made by people use servidor.domain.keys.derive instead)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def require(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("esta rota precisa de uma chave: Authorization: Bearer <chave>")
    return principal


def require_read(principal: Principal | None, meter_id: str) -> Principal:
    principal = require(principal)
    if not principal.can_read(meter_id):
        raise Forbidden(f"esta chave não dá acesso ao medidor {meter_id}")
    return principal


def require_site_read(principal: Principal | None, site_id: str) -> Principal:
    principal = require(principal)
    if not principal.can_read_site(site_id):
        raise Forbidden(f"esta chave não dá acesso ao site {site_id}")
    return principal


def require_write(principal: Principal | None, meter_id: str) -> Principal:
    principal = require(principal)
    if not principal.can_write(meter_id):
        raise Forbidden(f"esta rota precisa da chave de escrita do medidor {meter_id} ou da chave de administração")
    return principal


def require_node(principal: Principal | None, node: str) -> Principal:
    """The admin key, or the key of acquisition node `node`."""
    principal = require(principal)
    if principal.role is Role.ADMIN or (principal.role is Role.NODE and principal.meter_id == node):
        return principal
    raise Forbidden(f"esta rota precisa da chave do nó {node} (POST /api/v1/nos/{node}/chave) ou da de administração")


def require_admin(principal: Principal | None) -> Principal:
    principal = require(principal)
    if principal.role is not Role.ADMIN:
        raise Forbidden("esta rota precisa da chave de administração")
    return principal


def require_creator(principal: Principal | None) -> Principal:
    principal = require(principal)
    if principal.role not in (Role.ADMIN, Role.REGISTRATION):
        raise Forbidden("criar medidores precisa da chave de administração ou de registro")
    return principal
