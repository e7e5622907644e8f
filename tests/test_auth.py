"""Keys: format, hashing, lookup and the permission rules."""
from __future__ import annotations

import pytest

from servidor.domain.auth import KeyRing, Principal, Role, hash_key, key_id_of, new_key, require_admin, require_read, require_write
from servidor.errors import Forbidden, Unauthorized


def test_new_keys_are_unique_and_carry_their_public_id():
    keys = {new_key("me") for _ in range(100)}
    assert len(keys) == 100
    for key, key_id in keys:
        assert key.startswith("me_") and key_id_of(key) == key_id and len(key) > 40


def test_keyring_finds_meter_keys_and_global_keys_by_hash_only():
    ring = KeyRing()
    key, key_id = new_key("ml")
    ring.add(key_id, hash_key(key), Principal(Role.READ, "m1"))
    ring.add_global(hash_key("segredo admin"), Principal(Role.ADMIN))
    assert ring.identify(f"Bearer {key}") == Principal(Role.READ, "m1")
    assert ring.identify("Bearer segredo admin").role is Role.ADMIN
    assert ring.identify(None) is None
    for bad in ("Bearer nope", f"Bearer {key}x", "Basic abc", "Bearer ", f"Bearer {key.replace(key_id, '0' * 16)}"):
        with pytest.raises(Unauthorized):
            ring.identify(bad)


def test_removing_a_meter_revokes_its_keys():
    ring = KeyRing()
    key, key_id = new_key("me")
    ring.add(key_id, hash_key(key), Principal(Role.WRITE, "m1"))
    ring.remove_meter("m1")
    with pytest.raises(Unauthorized):
        ring.identify(f"Bearer {key}")


def test_permission_rules():
    admin, reader, writer = Principal(Role.ADMIN), Principal(Role.READ, "a"), Principal(Role.WRITE, "a")
    assert require_read(reader, "a") and require_read(writer, "a") and require_read(admin, "b")
    assert require_write(writer, "a") and require_write(admin, "a")
    with pytest.raises(Forbidden):
        require_write(reader, "a")
    with pytest.raises(Forbidden):
        require_read(reader, "b")
    with pytest.raises(Forbidden):
        require_admin(writer)
    with pytest.raises(Unauthorized):
        require_read(None, "a")
    with pytest.raises(Forbidden):
        require_read(Principal(Role.REGISTRATION), "a")
