"""Every measurement of an analyzer on screen (issue 12): the Ao vivo tab's table per phase, live
as readings arrive, and the chart of one quantity over the day (g), at 80×24 against the real
server."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import ADMIN
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
from usuario.screens.measure_chart import MeasureChartScreen
from usuario.widgets.measurements import extras_line, measurement_table

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def shown_text(app, selector: str) -> str:
    """The widget's content as the terminal shows it (a Rich table rendered at the pane's width)."""
    from rich.console import Console

    widget = app.screen.query_one(selector)
    console = Console(width=max(widget.size.width, 40), record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


def analyzer_reading(seq: int, ts: int, volts: float) -> dict:
    return {"seq": seq, "ts": ts, "energia_wh": 1000.0 + seq, "potencia_w": 3200.0,
            "TPF": [volts, 219.4, 221.7], "IPF": [5.1, 4.8, 4.9, 0.4], "PAF": [1100.0, 1000.0, 1100.0],
            "PAT": 3200.0, "PAP": 3400.0, "PRT": 900.0, "FPT": 0.94, "FRE": 60.02,
            "THDV": [2.1, 2.3, 2.0], "THDI": [8.5, 9.1, 7.7, 12.0], "CEA": 1.0 + seq / 1000, "CER": 321.5}


def create_analyzer(server: Server) -> str:
    admin = server.api()
    created = admin.post("/api/v1/medidores", {"id": "analisador", "nome": "Quadro trifásico"})
    assert created.status == 201, created.json
    return created.json["chave_escrita"]


async def test_live_tab_shows_every_measurement_per_phase_and_a_day_chart(server: Server, tmp_path: Path):
    write = create_analyzer(server)
    agent = server.api(write)
    now = int(time.time() * 1000)
    rows = [analyzer_reading(i, now - (5 - i) * 60_000, 220.0 + i) for i in range(5)]
    assert agent.post("/api/v1/medidores/analisador/leituras", {"leituras": rows}).status == 200
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "analisador")
        await pilot.press("5")
        await until(pilot, lambda: "224,0" in shown_text(app, "#live-measurements"))
        shown = shown_text(app, "#live-measurements")
        for text in ("THD I %", "FP", "var", "219,4", "0,40", "3.400", "0,94", "12,0", "Frequência 60,02 Hz",
                     "Energia reativa 321,5 kvarh"):
            assert text in shown, (text, shown)
        # A new reading changes the table while the tab is open.
        assert agent.post("/api/v1/medidores/analisador/leituras",
                          analyzer_reading(5, now, 231.5)).status == 200
        await until(pilot, lambda: "231,5" in shown_text(app, "#live-measurements"))
        ARTIFACTS.mkdir(exist_ok=True)
        app.save_screenshot("ao-vivo-medidas.svg", str(ARTIFACTS))

        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, MeasureChartScreen))
        await until(pilot, lambda: "leituras hoje" in text_of(app, "#measure-chart-status"))
        status = text_of(app, "#measure-chart-status")
        # Readings of the last minutes: all of today's unless the test runs just after midnight.
        assert status.startswith("TPF fase 1") and "agora 231,5" in status
        app.save_screenshot("ao-vivo-grafico-medida.svg", str(ARTIFACTS))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, MeasureChartScreen))


async def test_a_meter_without_analyzer_codes_shows_no_table(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("5")
        await settle(app, pilot)
        assert not app.screen.query_one("#live-measurements").display
        await pilot.press("g")
        await settle(app, pilot)
        assert not isinstance(app.screen, MeasureChartScreen)


def test_table_cells() -> None:
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(measurement_table({"TPF": (230.0, 229.0, 231.0), "PAT": 1500.0}))
    text = console.export_text()
    assert "230,0" in text and "1.500" in text and "—" in text and "N" not in text.split()
    assert extras_line({"FRE": 50.0}) == "Frequência 50,00 Hz"
