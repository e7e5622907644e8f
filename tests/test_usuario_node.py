"""The Controle tab's "Porta de controle": a real agent with `--porta-controle` registers its
address on a real server, and the terminal app (Pilot, 80×24) pauses it, asks for its values and
its status over the agent's real TCP port."""
from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest
from textual.widgets import Button

from medidor import node_cli
from medidor.agent import Agent
from medidor.config import AgentConfig
from tests.conftest import ADMIN
from tests.medidor_harness import wait_for
from tests.test_usuario_app import (  # noqa: F401 (fixtures)
    SIZE,
    Server,
    anyio_backend,
    make_app,
    open_meter,
    server,
    settle,
    text_of,
    until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


class AgentWithPort:
    def __init__(self, server: Server, tmp_path: Path) -> None:
        config = AgentConfig(medidor="oficina", servidor=server.url, estado=tmp_path / "oficina",
                             chave_registro=ADMIN, intervalo_s=0.2)
        self.agent = Agent(config, on_message=lambda _: None)
        self.stop = threading.Event()
        args = argparse.Namespace(porta_controle=0, host_controle="127.0.0.1", chave_controle=None, config=None)
        self.control = node_cli.start(args, [self.agent], self.stop)
        self.thread = threading.Thread(target=self.agent.run, args=(self.stop,))
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        self.control.stop()


async def test_the_control_tab_drives_the_agents_control_port(server: Server, tmp_path: Path):
    node = AgentWithPort(server, tmp_path)
    try:
        address = "%s:%d" % node.control.address
        wait_for(lambda: server.api().get("/api/v1/medidores/oficina").json.get("controle") == address,
                 "the control address on the server")
        wait_for(lambda: node.agent.node.health.comm is True, "a first reading")
        app = make_app(tmp_path, server.url, ADMIN)
        async with app.run_test(size=SIZE) as pilot:
            await open_meter(app, pilot, "oficina")
            await pilot.press("6")
            await settle(app, pilot)
            assert address in text_of(app, "#node-title")
            app.screen.query_one("#node-pause", Button).press()
            await until(pilot, lambda: "PAUSED" in text_of(app, "#node-answer"))
            assert node.agent.controls.paused
            app.screen.query_one("#node-status", Button).press()
            await until(pilot, lambda: "STATUS:\nPAUSED  COMM" in text_of(app, "#node-answer"))
            app.screen.query_one("#node-resume", Button).press()
            await until(pilot, lambda: "RESUMED" in text_of(app, "#node-answer"))
            assert not node.agent.controls.paused
            app.screen.query_one("#node-vars", Button).press()
            await until(pilot, lambda: "energia_wh" in text_of(app, "#node-answer"))
            app.screen.query_one("#node-reload", Button).press()
            await until(pilot, lambda: "SRV_CONF_ERR" in text_of(app, "#node-answer"))
            ARTIFACTS.mkdir(exist_ok=True)
            app.save_screenshot("controle-porta.svg", str(ARTIFACTS))
    finally:
        node.close()


async def test_a_meter_without_a_control_port_says_how_to_get_one(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("6")
        await settle(app, pilot)
        assert "--porta-controle" in text_of(app, "#node-title")
        assert app.screen.query_one("#node-pause", Button).disabled
