"""The router: segments, 404, 405 with Allow, HEAD following GET."""
from __future__ import annotations

import pytest

from servidor.api.router import Router
from servidor.errors import MethodNotAllowed, NotFound


def make() -> Router:
    r = Router()
    r.add("/api/v1/medidores", GET=lambda c: "list", POST=lambda c: "create")
    r.add("/api/v1/medidores/{id}/faturas/{mes}", GET=lambda c, id, mes: (id, mes))
    return r


def test_segments_are_captured_and_do_not_cross_slashes():
    match = make().resolve("GET", "/api/v1/medidores/casa-1/faturas/2026-10")
    assert match.params == {"id": "casa-1", "mes": "2026-10"}
    assert match.route == "/api/v1/medidores/{id}/faturas/{mes}"
    with pytest.raises(NotFound):
        make().resolve("GET", "/api/v1/medidores/a/b/faturas/2026-10")


def test_head_follows_get_and_wrong_method_lists_allow():
    make().resolve("HEAD", "/api/v1/medidores")
    with pytest.raises(MethodNotAllowed) as info:
        make().resolve("DELETE", "/api/v1/medidores")
    assert dict(info.value.headers)["allow"] == "GET, POST, HEAD, OPTIONS"


def test_unknown_path_is_not_found():
    with pytest.raises(NotFound):
        make().resolve("GET", "/api/v2/x")
