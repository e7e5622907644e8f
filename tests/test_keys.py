"""The key ring: meter keys by id and SHA-256, keys people choose through salted scrypt, a cache of
successful checks, revocation, and a bound on concurrent KDF work."""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from servidor.domain import keys as keys_module
from servidor.domain.auth import Principal, Role, hash_key, new_key
from servidor.domain.errors import Busy, Unauthenticated
from servidor.domain.keys import KEYS, SCRYPT_N, KeyRing, StoredKey, chosen_key_doc
from servidor.store.documents import DocumentStore

CHEAP = 2**4  # a test's scrypt cost; the real one is checked below


def ring(docs: DocumentStore | None = None, admin: str | None = "segredo admin", cost: int = CHEAP) -> KeyRing:
    docs = docs or DocumentStore.in_memory()
    keys = KeyRing(docs, cost)
    keys.bootstrap({Role.ADMIN: admin, Role.REGISTRATION: "segredo registro"}, announce=lambda _: None)
    return keys


def test_meter_keys_are_found_by_id_and_checked_by_hash():
    keys = ring()
    issued, docs = keys.issue("m1")
    keys.adopt(docs)
    assert keys.identify(f"Bearer {issued.chave_leitura}") == Principal(Role.READ, "m1")
    assert keys.identify(f"bearer   {issued.chave_escrita} ") == Principal(Role.WRITE, "m1")
    assert keys.identify(None) is None
    key_id = issued.chave_leitura.split("_")[1]
    for bad in ("Bearer nope", f"Bearer {issued.chave_leitura}x", "Basic abc", "Bearer ",
                f"Bearer {issued.chave_leitura.replace(key_id, '0' * 16)}", "Bearer " + "x" * 600):
        with pytest.raises(Unauthenticated):
            keys.identify(bad)
    assert {d["hash"] for d in docs} == {hash_key(issued.chave_escrita), hash_key(issued.chave_leitura)}


def test_a_chosen_key_is_stored_salted_through_scrypt_never_as_a_fast_hash(tmp_path: Path):
    docs = DocumentStore.open(tmp_path / "db.json")
    keys = ring(docs, cost=SCRYPT_N)
    assert keys.identify("Bearer segredo admin").role is Role.ADMIN
    docs.close()
    text = (tmp_path / "db.json").read_text()
    assert "segredo admin" not in text
    assert hashlib.sha256(b"segredo admin").hexdigest() not in text
    stored = [d for d in json.loads(text)[KEYS].values() if d["papel"] == "admin"]
    assert len(stored) == 1 and stored[0]["kdf"] == "scrypt" and stored[0]["n"] == SCRYPT_N
    assert len(bytes.fromhex(stored[0]["sal"])) == keys_module.SALT_BYTES
    # The same key stored twice gets two salts, so two copies of db.json share no hash.
    other = chosen_key_doc("segredo admin", Role.ADMIN, CHEAP)
    assert other["sal"] != stored[0]["sal"] and other["hash"] != stored[0]["hash"]


def test_a_chosen_key_still_works_after_a_restart_and_a_new_one_replaces_it(tmp_path: Path):
    db = tmp_path / "db.json"
    docs = DocumentStore.open(db)
    ring(docs)
    docs.close()
    again = DocumentStore.open(db)
    keys = KeyRing(again, CHEAP)  # no key given: what is stored is what counts
    keys.bootstrap({Role.ADMIN: None, Role.REGISTRATION: None}, announce=lambda _: None)
    assert keys.identify("Bearer segredo admin").role is Role.ADMIN
    keys.bootstrap({Role.ADMIN: "outro segredo", Role.REGISTRATION: None}, announce=lambda _: None)
    assert keys.identify("Bearer outro segredo").role is Role.ADMIN
    with pytest.raises(Unauthenticated):
        keys.identify("Bearer segredo admin")
    again.close()


def test_a_key_stored_by_an_older_server_as_sha256_is_stored_again_through_scrypt():
    docs = DocumentStore.in_memory()
    docs.upsert(KEYS, "hash", {"hash": hash_key("antiga"), "papel": "admin", "medidor": None})
    keys = ring(docs, admin="antiga")
    assert keys.identify("Bearer antiga").role is Role.ADMIN
    [stored] = [d for d in docs.all(KEYS) if d["papel"] == "admin"]
    assert stored["kdf"] == "scrypt" and stored["hash"] != hash_key("antiga")


def test_a_generated_key_is_announced_once_and_stored_by_id_as_sha256():
    docs = DocumentStore.in_memory()
    said: list[str] = []
    KeyRing(docs, CHEAP).bootstrap({Role.ADMIN: None, Role.REGISTRATION: None}, announce=said.append)
    KeyRing(docs, CHEAP).bootstrap({Role.ADMIN: None, Role.REGISTRATION: None}, announce=said.append)
    assert len(said) == 2  # admin and registration, the first time only
    key = said[0].rsplit(" ", 1)[1]
    keys = KeyRing(docs, CHEAP)
    assert keys.identify(f"Bearer {key}").role is Role.ADMIN
    assert StoredKey.from_doc(next(d for d in docs.all(KEYS) if d.get("id_chave"))).salt is None


def test_revoking_a_meter_ends_its_keys_even_once_cached():
    keys = ring()
    issued, docs = keys.issue("m1")
    keys.adopt(docs)
    assert keys.identify(f"Bearer {issued.chave_escrita}").meter_id == "m1"  # now cached
    keys.revoke_meter("m1")
    with pytest.raises(Unauthenticated):
        keys.identify(f"Bearer {issued.chave_escrita}")


def test_a_flood_of_wrong_keys_gets_busy_instead_of_every_thread(monkeypatch: pytest.MonkeyPatch):
    keys = ring()
    monkeypatch.setattr(keys_module, "KDF_WAIT_S", 0.05)
    keys._kdf_turns = threading.BoundedSemaphore(1)
    assert keys._kdf_turns.acquire()  # another request is deriving a key right now
    try:
        with pytest.raises(Busy) as info:
            keys.identify("Bearer palpite")
        assert info.value.retry_after_s >= 1
        meter_key, docs = keys.issue("m1")
        keys.adopt(docs)  # a meter's key needs no KDF: it is checked while the KDF is busy
        assert keys.identify(f"Bearer {meter_key.chave_escrita}").meter_id == "m1"
    finally:
        keys._kdf_turns.release()


def test_new_keys_carry_an_id_that_finds_them():
    key, key_id = new_key("me")
    assert key.split("_")[1] == key_id
