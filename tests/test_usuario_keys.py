"""A meter's keys in the terminal app (issue 14 #1): listed, replaced and revoked from the
Controle tab with the admin key, against the real server; a meter's own key sees no buttons."""
from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button

from tests.conftest import ADMIN, Api
from tests.test_usuario_app import (  # noqa: F401 (fixtures)
    CASA_READ,
    CASA_WRITE,
    Server,
    anyio_backend,
    make_app,
    open_meter,
    server,
    settle,
    text_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SIZE = (100, 40)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
READING = {"seq": 999_999, "ts": 1_790_000_000_000, "energia_wh": 1.0}


async def test_the_admin_replaces_the_read_key_and_revokes_the_write_key(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("6")
        await settle(app, pilot)
        listed = text_of(app, "#keys-list")
        assert "escrita" in listed and "leitura" in listed and CASA_READ.split("_")[1] in listed
        assert CASA_READ.split("_")[2] not in listed  # the public id only, never the secret
        app.screen.query_one("#key-new-leitura", Button).press()
        await settle(app, pilot)
        shown = text_of(app, "#key-shown")
        new_read = next(line.split(": ", 1)[1] for line in shown.splitlines() if line.startswith("leitura: "))
        assert Api(server.port, new_read).get("/api/v1/medidores/casa-silva").status == 200
        assert Api(server.port, CASA_READ).get("/api/v1/medidores/casa-silva").status == 401
        assert new_read.split("_")[1] in text_of(app, "#keys-list")
        revoke = app.screen.query_one("#key-revoke-escrita", Button)
        revoke.press()  # first press only arms it
        await settle(app, pilot)
        assert "Confirmar" in str(revoke.label)
        assert Api(server.port, CASA_WRITE).post("/api/v1/medidores/casa-silva/leituras", READING).status == 200
        revoke.press()
        await settle(app, pilot)
        assert "revogada" in text_of(app, "#key-shown")
        assert Api(server.port, CASA_WRITE).post("/api/v1/medidores/casa-silva/leituras",
                                                 {**READING, "seq": READING["seq"] + 1}).status == 401
        assert "escrita" not in text_of(app, "#keys-list")
        # What a person sees there (test-artifacts/ is kept by CI, not committed).
        app.screen.query_one("#meter-keys").scroll_visible(animate=False)
        await pilot.pause()
        ARTIFACTS.mkdir(exist_ok=True)
        app.save_screenshot("controle-chaves.svg", str(ARTIFACTS))


async def test_a_meters_own_key_sees_the_keys_section_closed(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, CASA_READ)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("6")
        await settle(app, pilot)
        assert "Só a chave de administração" in text_of(app, "#keys-list")
        assert all(b.disabled for b in app.screen.query("#meter-keys Button").results(Button))
