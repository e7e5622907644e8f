"""The router: fixed paths and segments, 404, 405 with Allow, HEAD following GET."""
from __future__ import annotations

import pytest

from servidor.api.errors import MethodNotAllowed, RouteNotFound
from servidor.api.router import Router


def make() -> Router:
    r = Router()
    r.add("/api/v1/medidores", GET=lambda c: "list", POST=lambda c: "create")
    r.add("/api/v1/medidores/{id}", GET=lambda c, id: id)
    r.add("/api/v1/medidores/{id}/faturas/{mes}", GET=lambda c, id, mes: (id, mes))
    r.add("/api/v1/medidores/especial/faturas", GET=lambda c: "literal")
    r.add("/{id}", legacy=True, GET=lambda c, id: id)
    return r


def test_segments_are_captured_and_do_not_cross_slashes():
    match = make().resolve("GET", "/api/v1/medidores/casa-1/faturas/2026-10")
    assert match.params == {"id": "casa-1", "mes": "2026-10"}
    assert match.route.path == "/api/v1/medidores/{id}/faturas/{mes}"
    for path in ("/api/v1/medidores/a/b/faturas/2026-10", "/api/v1/medidores//faturas/x", "/api/v1/medidores/a/"):
        with pytest.raises(RouteNotFound):
            make().resolve("GET", path)


def test_a_literal_segment_wins_but_a_dead_end_falls_back_to_the_variable():
    router = make()
    assert router.resolve("GET", "/api/v1/medidores/especial/faturas").params == {}
    match = router.resolve("GET", "/api/v1/medidores/especial/faturas/2026-10")
    assert match.params == {"id": "especial", "mes": "2026-10"}


def test_fixed_paths_win_over_templates_and_templates_keep_their_flags():
    router = make()
    assert router.resolve("GET", "/api/v1/medidores").route.path == "/api/v1/medidores"
    legacy = router.resolve("GET", "/abc")
    assert legacy.params == {"id": "abc"} and legacy.route.legacy


def test_head_follows_get_and_wrong_method_lists_allow():
    make().resolve("HEAD", "/api/v1/medidores")
    with pytest.raises(MethodNotAllowed) as info:
        make().resolve("DELETE", "/api/v1/medidores")
    assert dict(info.value.headers)["allow"] == "GET, POST, HEAD, OPTIONS"


def test_unknown_path_is_not_found():
    with pytest.raises(RouteNotFound):
        make().resolve("GET", "/api/v2/x")


def test_a_template_registered_twice_is_refused():
    router = make()
    with pytest.raises(ValueError):
        router.add("/api/v1/medidores/{id}", PUT=lambda c, id: id)
    with pytest.raises(ValueError):
        router.add("/api/v1/medidores/{outro}/leituras", GET=lambda c, outro: outro)


def test_remembered_paths_stay_bounded_and_answer_as_before(monkeypatch):
    from servidor.api import router as router_module

    monkeypatch.setattr(router_module, "MAX_REMEMBERED", 8)
    router = make()
    for n in range(50):
        assert router.resolve("GET", f"/api/v1/medidores/m{n}").params == {"id": f"m{n}"}
        with pytest.raises(RouteNotFound):
            router.resolve("GET", f"/api/v1/medidores/m{n}/nada")
    assert len(router._remembered) <= 8
    assert router.resolve("GET", "/api/v1/medidores/m3").params == {"id": "m3"}
