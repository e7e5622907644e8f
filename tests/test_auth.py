"""Keys' format and the permission rules."""
from __future__ import annotations

import pytest

from servidor.domain.auth import (
    Principal,
    Role,
    key_id_of,
    new_key,
    require_admin,
    require_creator,
    require_read,
    require_write,
)
from servidor.domain.errors import Forbidden, Unauthenticated


def test_new_keys_are_unique_and_carry_their_public_id():
    keys = {new_key("me") for _ in range(100)}
    assert len(keys) == 100
    for key, key_id in keys:
        assert key.startswith("me_") and key_id_of(key) == key_id and len(key) > 40


def test_permission_rules():
    admin, reader, writer = Principal(Role.ADMIN), Principal(Role.READ, "a"), Principal(Role.WRITE, "a")
    assert require_read(reader, "a") and require_read(writer, "a") and require_read(admin, "b")
    assert require_write(writer, "a") and require_write(admin, "a")
    assert require_creator(Principal(Role.REGISTRATION)) and require_creator(admin)
    with pytest.raises(Forbidden):
        require_write(reader, "a")
    with pytest.raises(Forbidden):
        require_read(reader, "b")
    with pytest.raises(Forbidden):
        require_admin(writer)
    with pytest.raises(Forbidden):
        require_creator(writer)
    with pytest.raises(Unauthenticated):
        require_read(None, "a")
    with pytest.raises(Forbidden):
        require_read(Principal(Role.REGISTRATION), "a")
