"""The key ring: every key's hash in the document store, identification of a Bearer key.

Two kinds of secret, two hashes. Keys the server makes (meter keys, generated admin and
registration keys) are 256 random bits: nobody can guess them, so SHA-256 protects a copy of
db.json as well as any KDF would, at a microsecond per check. Keys a person chose
(MONITOR_CHAVE_ADMIN, MONITOR_CHAVE_REGISTRO) can be guessed from a copy of db.json with a fast
hash, so they are stored salted through scrypt, whose cost is recorded beside each hash.

A successful check is remembered (a bounded cache keyed by the key itself, emptied when a key is
revoked), so the ingest path pays neither hash nor KDF after a key's first request. Checks that
need the KDF run at most KDF_CONCURRENCY at a time: a flood of wrong keys costs the server
those few threads, never all of them.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from servidor.domain.atomic import Tables, atomic
from servidor.domain.auth import Principal, Role, hash_key, key_id_of, new_key
from servidor.domain.meters import now_iso
from servidor.domain.errors import Busy, InvalidInput, Unauthenticated
from servidor.store.documents import DocumentStore

KEYS = "chaves"
# scrypt cost for keys people choose: ~65 ms and 16 MiB per check on the development VM
# (RFC 7914 §2 suggests N=2^14, r=8 for interactive logins). Stored with each hash.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
# Successful checks remembered; a meter fleet's keys fit, and eviction only costs one hash.
MAX_CACHED_KEYS = 4096
# KDF checks running at once, and how long a request waits for a turn before a 503.
KDF_CONCURRENCY = 2
KDF_WAIT_S = 2.0
# A header longer than any key the server makes or a person would type is not a key.
MAX_KEY_CHARS = 512
# With documents shared by several servers (PostgreSQL), a key made or revoked through another
# server is looked up again after this long: revocation reaches every server within it, and a
# busy agent costs one indexed query per this interval, not one per request.
SHARED_RECHECK_S = 5.0


@dataclass(frozen=True, slots=True)
class StoredKey:
    principal: Principal
    digest: str
    salt: str | None = None   # hex; None for SHA-256
    cost: int = 0             # scrypt N; 0 for SHA-256

    def matches(self, key: str) -> bool:
        if self.salt is None:
            return hmac.compare_digest(hash_key(key), self.digest)
        return hmac.compare_digest(derive(key, bytes.fromhex(self.salt), self.cost), self.digest)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "StoredKey":
        principal = Principal(Role(doc["papel"]), doc.get("medidor") or doc.get("no"), doc.get("site"))
        if doc.get("kdf") == "scrypt":
            return cls(principal, doc["hash"], doc["sal"], int(doc["n"]))
        return cls(principal, doc["hash"])


# The keys one per server (not per meter), and how a person reads their name and prefix.
GLOBAL_ROLES = (Role.ADMIN, Role.REGISTRATION)
METER_ROLES = (Role.WRITE, Role.READ)
LABELS = {Role.ADMIN: ("administração", "adm"), Role.REGISTRATION: ("registro de medidores", "reg"),
          Role.WRITE: ("escrita", "me"), Role.READ: ("leitura", "ml"), Role.NODE: ("nó de aquisição", "no")}


def announcement(role: Role, key: str) -> str:
    return f"Chave de {LABELS[role][0]} (mostrada só agora; guarde-a): {key}"


def generated_key_doc(role: Role, meter_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new random key of `role` and the document that stores it (SHA-256, by its public id)."""
    made, key_id = new_key(LABELS[role][1])
    return made, {"id_chave": key_id, "hash": hash_key(made), "papel": role.value, "medidor": meter_id,
                  "criado_em": now_iso()}


@dataclass(frozen=True, slots=True)
class NewMeterKeys:
    """A meter's keys just made (None: that one was not replaced), shown once."""

    chave_escrita: str | None
    chave_leitura: str | None

    def to_json(self) -> dict[str, str]:
        return {name: key for name, key in (("chave_escrita", self.chave_escrita),
                                            ("chave_leitura", self.chave_leitura)) if key is not None}


def derive(key: str, salt: bytes, cost: int = SCRYPT_N) -> str:
    return hashlib.scrypt(key.encode("utf-8"), salt=salt, n=cost, r=SCRYPT_R, p=SCRYPT_P, dklen=32).hex()


def chosen_key_doc(key: str, role: Role, cost: int = SCRYPT_N) -> dict[str, Any]:
    """The stored form of a key a person chose: salted scrypt, with its cost."""
    salt = os.urandom(SALT_BYTES)
    return {"id_chave": key_id_of(key), "hash": derive(key, salt, cost), "kdf": "scrypt", "sal": salt.hex(),
            "n": cost, "papel": role.value, "medidor": None}


class KeyRing:
    """Stored keys in memory, loaded from and written through to the document store."""

    def __init__(self, docs: DocumentStore, kdf_cost: int = SCRYPT_N) -> None:
        self._docs = docs
        self._kdf_cost = kdf_cost
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredKey] = {}
        self._unnamed: list[StoredKey] = []  # keys without a public id: checked one by one
        self._cache: dict[str, Principal] = {}
        # Shared documents only: when each cached key was last checked against the database.
        self._shared = bool(getattr(docs, "shared", False))
        self._checked_at: dict[str, float] = {}
        self._kdf_turns = threading.BoundedSemaphore(KDF_CONCURRENCY)
        for doc in docs.all(KEYS):
            self._adopt(doc)

    def _adopt(self, doc: dict[str, Any]) -> None:
        stored = StoredKey.from_doc(doc)
        if doc.get("id_chave"):
            self._by_id[doc["id_chave"]] = stored
        else:
            self._unnamed.append(stored)

    # -- identification -------------------------------------------------------------------------

    def identify(self, authorization: str | None) -> Principal | None:
        """The principal of an `Authorization: Bearer` header; None without one; Unauthenticated
        for a malformed header or a key nobody issued; Busy when KDF checks are saturated."""
        if authorization is None:
            return None
        scheme, _, key = authorization.strip().partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or len(key) > MAX_KEY_CHARS:
            raise Unauthenticated("use o cabeçalho Authorization: Bearer <chave>")
        found = self._cache.get(key)
        if found is not None and (not self._shared or time.monotonic() - self._checked_at.get(key, 0.0) < SHARED_RECHECK_S):
            return found
        key_id = key_id_of(key)
        named = self._by_id.get(key_id) if key_id else None
        if self._shared:
            found = None
            if key_id:
                named = self._stored_now(key_id)
            else:
                self._unnamed_now()
        if named is not None and named.matches(key):
            found = named.principal
        elif self._unnamed:
            found = self._check_unnamed(key)
        if found is None:
            raise Unauthenticated("chave desconhecida ou revogada")
        with self._lock:
            if len(self._cache) >= MAX_CACHED_KEYS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = found
            if self._shared:
                self._checked_at[key] = time.monotonic()
        return found

    def _unnamed_now(self) -> None:
        """The keys without a public id (chosen by a person: scrypt) as the shared documents hold them."""
        stored = [StoredKey.from_doc(d) for d in self._docs.matching(KEYS, "kdf", "scrypt") if not d.get("id_chave")]
        with self._lock:
            self._unnamed = stored

    def _stored_now(self, key_id: str) -> StoredKey | None:
        """The key as the shared documents hold it now: another server may have made or revoked it."""
        doc = self._docs.get(KEYS, "id_chave", key_id)
        with self._lock:
            if doc is None:
                self._by_id.pop(key_id, None)
                return None
            self._adopt(doc)
            return self._by_id.get(key_id)

    def _check_unnamed(self, key: str) -> Principal | None:
        if not self._kdf_turns.acquire(timeout=KDF_WAIT_S):
            raise Busy("muitas verificações de chave ao mesmo tempo; tente de novo", retry_after_s=1)
        try:
            found = None
            for stored in list(self._unnamed):  # every one, not stopping at a match
                if stored.matches(key):
                    found = stored.principal
            return found
        finally:
            self._kdf_turns.release()

    # -- chosen and generated global keys -------------------------------------------------------

    def bootstrap(self, given: dict[Role, str | None], announce: Callable[[str], None] | None) -> None:
        """Admin and registration keys: the ones given (from the environment) replace what is
        stored unless they match it. Without `announce`, a missing key is left for
        `make_missing` (the command line makes it once the server listens, so a key is never
        shown by a server that then fails to start); with it, it is made and announced now."""
        for role, key in given.items():
            if key is None:
                continue
            stored = [d for d in self._docs.all(KEYS) if d["papel"] == role.value and d.get("medidor") is None]
            current = [d for d in stored if StoredKey.from_doc(d).matches(key)]
            if not current or current[0].get("kdf") != "scrypt":  # new, or kept from before scrypt
                self._replace_global(role, chosen_key_doc(key, role, self._kdf_cost))
            with self._lock:
                self._cache[key] = Principal(role)  # checked just now: no KDF on its first request
        if announce is not None:
            for line in self.make_missing([r for r, k in given.items() if k is None]):
                announce(line)

    def make_missing(self, roles: Iterable[Role] = GLOBAL_ROLES) -> list[str]:
        """For each of `roles` without a stored key, a new key, stored durably before this
        returns; the lines that show them, once (nothing shows them again)."""
        lines = []
        for role in roles:
            if not any(d["papel"] == role.value and d.get("medidor") is None for d in self._docs.all(KEYS)):
                lines.append(announcement(role, self.new_global(role)))
        return lines

    def new_global(self, role: Role) -> str:
        """A new random admin or registration key replacing the stored one (which stops working
        at once); returned only after it is stored."""
        made, doc = generated_key_doc(role)
        self.install_global(role, doc)
        return made

    def install_global(self, role: Role, doc: dict[str, Any]) -> None:
        """Store `doc` (a key's hash, made elsewhere: `servidor chave nova` against a running
        server) as the one key of `role`."""
        if role not in GLOBAL_ROLES:
            raise InvalidInput(f"papel deve ser um de: {', '.join(r.value for r in GLOBAL_ROLES)}")
        self._replace_global(role, doc)

    def _replace_global(self, role: Role, doc: dict[str, Any]) -> None:
        def change(tables: Tables) -> None:
            for old in tables.rows(KEYS):
                if old["papel"] == role.value and old.get("medidor") is None:
                    tables.remove(KEYS, "hash", old["hash"])
            tables.insert(KEYS, doc)

        atomic(self._docs, change)
        with self._lock:
            self._by_id = {k: v for k, v in self._by_id.items() if not _is_global(v, role)}
            self._unnamed = [v for v in self._unnamed if not _is_global(v, role)]
            self._cache = {k: p for k, p in self._cache.items() if not (p.role is role and p.meter_id is None)}
            self._adopt(doc)

    # -- acquisition nodes' keys ----------------------------------------------------------------

    def new_node_key(self, node: str) -> str:
        """A new key for acquisition node `node` (the central routes of its meters), replacing
        the one it had, which stops working at once; returned only after it is stored."""
        made, doc = generated_key_doc(Role.NODE)
        doc["no"] = node

        def change(tables: Tables) -> None:
            for old in tables.rows(KEYS):
                if old["papel"] == Role.NODE.value and old.get("no") == node:
                    tables.remove(KEYS, "hash", old["hash"])
            tables.insert(KEYS, doc)

        atomic(self._docs, change)
        with self._lock:
            self._by_id = {k: v for k, v in self._by_id.items()
                           if (v.principal.role, v.principal.meter_id) != (Role.NODE, node)}
            self._cache = {k: p for k, p in self._cache.items() if (p.role, p.meter_id) != (Role.NODE, node)}
            self._adopt(doc)
        return made

    # -- meter keys -------------------------------------------------------------------------------

    @staticmethod
    def issue(meter_id: str, roles: Iterable[Role] = METER_ROLES) -> tuple["NewMeterKeys", list[dict[str, Any]]]:
        """New keys of `roles` for a meter, and the documents to store in the transaction that
        creates the meter or replaces its keys."""
        made = {role: generated_key_doc(role, meter_id) for role in roles}
        keys = NewMeterKeys(made[Role.WRITE][0] if Role.WRITE in made else None,
                            made[Role.READ][0] if Role.READ in made else None)
        return keys, [doc for _, doc in made.values()]

    def adopt(self, docs: list[dict[str, Any]]) -> None:
        """Keys stored by a committed transaction become valid."""
        with self._lock:
            for doc in docs:
                self._adopt(doc)

    def revoke_meter(self, meter_id: str, roles: Iterable[Role] = METER_ROLES) -> None:
        """A meter's keys of `roles` stop working (their documents went in a committed
        transaction): the meter was deleted, or those keys were replaced or revoked."""
        gone = {(role, meter_id) for role in roles}
        with self._lock:
            self._by_id = {k: v for k, v in self._by_id.items()
                           if (v.principal.role, v.principal.meter_id) not in gone}
            self._cache.clear()

    def revoke_site(self, site_id: str) -> None:
        """A site's read key stops working (its document went in a committed transaction)."""
        with self._lock:
            self._by_id = {k: v for k, v in self._by_id.items() if v.principal.site_id != site_id}
            self._cache.clear()

    def meter_keys(self, meter_id: str) -> list[dict[str, Any]]:
        """A meter's keys as the API lists them: role, public id and creation (never the hash)."""
        return [{"papel": d["papel"], "id_chave": d.get("id_chave"), "criado_em": d.get("criado_em")}
                for d in self._docs.all(KEYS) if d.get("medidor") == meter_id]


def _is_global(stored: StoredKey, role: Role) -> bool:
    return stored.principal.role is role and stored.principal.meter_id is None
