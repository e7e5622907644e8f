"""The terminal app driven by Pilot against a real server on port 0 seeded with db.json.example.

Every test waits for the app's workers before asserting (Textual: `workers.wait_for_complete`). The live long poll never
completes while its tab is open, so `settle` waits for every worker but that one.
"""
from __future__ import annotations

import csv
import json
import shutil
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from textual.command import CommandInput, CommandList
from textual.widgets import DataTable, Input, Static, TextArea
from textual.worker import WorkerState
from textual_plotext import PlotextPlot

from servidor import example
from servidor.app import App, readings_dir
from servidor.app import Settings as ServerSettings
from servidor.net import HttpServer
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import ADMIN, Api
from tests.ports import reserved_port
from usuario import format as fmt
from usuario.app import UsuarioApp
from usuario.config import Settings
from usuario.screens.connect import ConnectScreen
from usuario.screens.meter import MeterScreen
from usuario.screens.meters import MetersScreen

ROOT = Path(__file__).resolve().parent.parent
SIZE = (80, 24)
# Async tests run on anyio's pytest plugin (installed with Textual), on asyncio; seconds each.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]
CASA_READ, CASA_WRITE = example.DEMO_KEYS["casa-silva"]


class Server:
    """The real server over a copy of db.json.example, restartable on the same port."""

    def __init__(self, db: Path, port: int = 0) -> None:
        self.db = db
        self.port = port
        self.app: App | None = None
        self.http: HttpServer | None = None

    def start(self) -> "Server":
        app = App(DocumentStore.open(self.db), ReadingStore.open(readings_dir(self.db)),
                  ServerSettings(admin_key=ADMIN), announce=lambda _: None)
        http = app.listen(port=self.port, workers=8)
        http.start()
        app.start()
        self.app, self.http, self.port = app, http, http.address[1]
        return self

    def stop(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.app.close()
            self.http = self.app = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, key: str = ADMIN) -> Api:
        return Api(self.port, key)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = tmp_path / "db.json"
    shutil.copyfile(ROOT / "db.json.example", db)
    running = Server(db).start()
    yield running
    running.stop()


def make_app(tmp_path: Path, url: str | None, key: str | None, **kwargs: Any) -> UsuarioApp:
    settings = Settings(servidor=url, chave=key, servidor_source="--servidor", chave_source="--chave",
                        config_path=tmp_path / "usuario.toml", exportar_para=tmp_path / "export")
    # Short waits keep the suite fast; no periodic refresh, so a test sees only what it caused.
    kwargs.setdefault("live_wait_s", 1.0)
    kwargs.setdefault("refresh_s", 3600.0)
    kwargs.setdefault("retry_backoff_s", (0.2, 0.4))
    app = UsuarioApp(settings, **kwargs)
    # Pilot waits for animations after each key; without them a key press settles at once.
    app.animation_level = "none"
    return app


async def settle(app: UsuarioApp, pilot: Any, rounds: int = 4) -> None:
    """Wait for every worker except the live long poll, and for the messages they posted."""
    for _ in range(rounds):
        pending = [w for w in app.workers
                   if w.group != "ao-vivo" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if pending:
            await app.workers.wait_for_complete(pending)
        await pilot.pause()


async def until(pilot: Any, condition: Any, timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (for things a timer or the server drives)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def text_of(app: UsuarioApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def row_ids(table: DataTable) -> list[str]:
    return [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]


async def open_meter(app: UsuarioApp, pilot: Any, meter_id: str) -> MeterScreen:
    await settle(app, pilot)
    assert isinstance(app.screen, MetersScreen)
    table = app.screen.query_one("#meters", DataTable)
    table.move_cursor(row=row_ids(table).index(meter_id))
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, MeterScreen)
    return app.screen


# -- start and connection ---------------------------------------------------------------------------

async def test_wrong_key_stays_on_connection_screen_saying_which_key_is_needed(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, "chave-errada")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ConnectScreen)
        problem = text_of(app, "#connect-problem")
        assert "recusada" in problem and "chave de administração" in problem and "--chave" in problem


async def test_missing_key_is_asked_for_and_typing_it_connects(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ConnectScreen)
        assert "Falta a chave" in text_of(app, "#connect-problem")
        assert app.focused is app.screen.query_one("#chave", Input)
        await pilot.press(*ADMIN, "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MetersScreen)


async def test_remember_saves_address_and_key_for_the_next_start(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#lembrar").value = True
        app.screen.query_one("#chave", Input).value = CASA_READ
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, MetersScreen)
    saved = (tmp_path / "usuario.toml").read_text()
    assert server.url in saved and CASA_READ in saved
    assert (tmp_path / "usuario.toml").stat().st_mode & 0o077 == 0


async def test_unreachable_server_shows_banner_and_connects_once_it_starts(tmp_path: Path):
    db = tmp_path / "db.json"
    shutil.copyfile(ROOT / "db.json.example", db)
    # The port stays bound (refusing connections) until the server listens on it: no other
    # program can be handed it meanwhile.
    with reserved_port() as port:
        app = make_app(tmp_path, f"http://127.0.0.1:{port}", ADMIN)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            assert isinstance(app.screen, ConnectScreen)
            banner = app.screen.query_one("#banner")
            assert banner.display and "Sem conexão" in str(banner.render())
            assert "inacessível" in text_of(app, "#connect-problem")
            running = Server(db, port).start()
            try:
                await until(pilot, lambda: isinstance(app.screen, MetersScreen))
                await settle(app, pilot)
                assert not app.screen.query_one("#banner").display
            finally:
                running.stop()


# -- meters list ------------------------------------------------------------------------------------

async def test_meters_table_sorts_filters_and_enter_opens(server: Server, tmp_path: Path):
    from tests.test_usuario_cli import LEGACY_PAYLOAD, send_like_004_meter

    send_like_004_meter(server.port, "medidor-antigo", LEGACY_PAYLOAD)
    listed = server.api().get("/api/v1/medidores").json["medidores"]
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#meters", DataTable)
        assert row_ids(table) == [m["id"] for m in sorted(listed, key=lambda m: m["nome"].casefold())]
        # Ctrl+O steps through the columns; the month's kWh is the fifth (largest first).
        for _ in range(4):
            await pilot.press("ctrl+o")
        by_month = sorted(listed, key=lambda m: (m["resumo"]["kwh_mes"], m["nome"].casefold()), reverse=True)
        assert row_ids(table) == [m["id"] for m in by_month]
        assert fmt.number(by_month[0]["resumo"]["kwh_mes"]) in str(table.get_row_at(0)[4])
        assert "Mês kWh decrescente" in text_of(app, "#meters-status")
        assert "1 do 004: usuario --menu" in text_of(app, "#meters-status")
        await pilot.press("ctrl+r")
        assert row_ids(table) == [m["id"] for m in reversed(by_month)]
        # Typing on the table filters it.
        await pilot.press("e", "s", "c")
        assert app.screen.query_one("#filter", Input).value == "esc"
        assert row_ids(table) == ["escola-norte"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MeterScreen) and app.screen.meter.id == "escola-norte"
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, MetersScreen)


async def test_a_meter_key_sees_only_its_meter(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, CASA_READ)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert row_ids(app.screen.query_one("#meters", DataTable)) == ["casa-silva"]


# -- one meter --------------------------------------------------------------------------------------

async def test_overview_shows_the_servers_numbers_in_pt_br(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        summary = server.api().get("/api/v1/medidores/casa-silva").json["resumo"]
        assert text_of(app, "#ov-hoje") == fmt.kwh(summary["kwh_hoje"])
        assert text_of(app, "#ov-mes").startswith(fmt.kwh(summary["kwh_mes"]))
        assert fmt.brl(summary["fatura_projetada"]["total"]) in text_of(app, "#ov-fatura")
        limit = text_of(app, "#ov-limite")
        assert fmt.percent(summary["limite_uso_pct"]) in limit and "250,00 kWh" in limit


async def test_consumption_shows_last_30_days_with_coverage_and_arrows_move(server: Server, tmp_path: Path):
    clock = lambda: datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)  # noqa: E731
    app = make_app(tmp_path, server.url, ADMIN, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("2")
        await settle(app, pilot)
        days = server.api().get("/api/v1/medidores/casa-silva/consumo?intervalo=dia&de=2026-10-23&ate=2026-11-22").json
        assert "por dia de 23/10 a 22/11/2026" in text_of(app, "#consumo-title")
        info = text_of(app, "#consumo-info")
        assert f"Total {fmt.kwh(days['total_kwh'])}" in info
        gaps = sum(1 for d in days["consumo"] if d["cobertura"] == 0)
        assert f"{gaps} dias sem dados" in info
        mean = sum(d["cobertura"] for d in days["consumo"]) / len(days["consumo"])
        assert f"cobertura {fmt.percent(100 * mean)}" in info
        await pilot.press("left")
        await settle(app, pilot)
        assert "por dia de 22/09 a 22/10/2026" in text_of(app, "#consumo-title")
        await pilot.press("right", "right")  # the second is refused: no future
        await settle(app, pilot)
        assert "por dia de 23/10 a 22/11/2026" in text_of(app, "#consumo-title")
        await pilot.press("h")
        await settle(app, pilot)
        assert "por hora de 21/11 13h a 22/11/2026 12h" in text_of(app, "#consumo-title")
        await pilot.press("left")
        await settle(app, pilot)
        assert "por hora de 20/11 13h a 21/11/2026 12h" in text_of(app, "#consumo-title")
        await pilot.press("m")
        await settle(app, pilot)
        assert "por mês de dez/2025 a nov/2026" in text_of(app, "#consumo-title")


def plotted(app: UsuarioApp) -> tuple[list[float], list[str]]:
    """The x of every point the consumption chart draws and its x-axis labels (plotext's own data)."""
    monitor = app.screen.query_one("#consumo-plot", PlotextPlot).plt._active.monitor
    return [x for series in monitor.x for x in series], sorted(monitor.xlabels[0])


async def test_just_after_midnight_the_hour_chart_shows_yesterdays_hours(server: Server, tmp_path: Path):
    """Issue 14 #3: at 00:10 the hourly chart had one "00h" tick; it shows the last 24 hours."""
    clock = lambda: datetime(2026, 11, 10, 3, 10, tzinfo=timezone.utc)  # noqa: E731 - 00:10 in São Paulo
    app = make_app(tmp_path, server.url, ADMIN, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("2", "h")
        await settle(app, pilot)
        assert "por hora de 09/11 01h a 10/11/2026 00h" in text_of(app, "#consumo-title")
        hours = server.api().get("/api/v1/medidores/casa-silva/consumo?intervalo=hora"
                                 "&de=2026-11-09T01:00&ate=2026-11-10T01:00").json
        assert len(hours["consumo"]) == 24
        assert f"Total {fmt.kwh(hours['total_kwh'])}" in text_of(app, "#consumo-info")
        xs, labels = plotted(app)
        assert min(xs) == 1 and max(xs) == 24  # 01h yesterday to 00h today, each hour in its place
        assert labels == sorted(["04h", "08h", "12h", "16h", "20h", "10/11"])  # midnight shows its date


async def test_on_the_first_of_a_month_the_day_chart_shows_the_month_before(server: Server, tmp_path: Path):
    """Issue 14 #3: on the 1st the daily chart showed one point; it shows the 31 days up to today."""
    clock = lambda: datetime(2026, 11, 1, 3, 30, tzinfo=timezone.utc)  # noqa: E731 - 00:30 in São Paulo
    app = make_app(tmp_path, server.url, ADMIN, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("2")
        await settle(app, pilot)
        assert "por dia de 02/10 a 01/11/2026" in text_of(app, "#consumo-title")
        days = server.api().get("/api/v1/medidores/casa-silva/consumo?intervalo=dia&de=2026-10-02&ate=2026-11-01").json
        assert f"Total {fmt.kwh(days['total_kwh'])}" in text_of(app, "#consumo-info")
        xs, labels = plotted(app)
        assert min(xs) == 1 and max(xs) == 31 and "02/10" in labels
        await pilot.press("r")
        await settle(app, pilot)
        # The projection moves with the server's clock, so the price is the one of the summary the
        # app last read (the server's own answer, a moment ago).
        projected = app.screen.meter.resumo.fatura_projetada
        assert projected is not None and projected.kwh > 0
        price = projected.total / Decimal(str(projected.kwh))
        assert text_of(app, "#consumo-title").startswith("R$ por dia")
        info = text_of(app, "#consumo-info")
        assert f"≈ {fmt.brl(price * Decimal(str(days['total_kwh'])))}" in info and f"{fmt.brl(price)}/kWh" in info


async def test_invoices_list_cycles_show_lines_and_versions_and_export_csv(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    # A price correction re-issues casa-silva's closed cycle: the tab shows both versions.
    tariff = server.api().get("/api/v1/tarifas/residencial").json
    tariff["versoes"][0]["taxa_fixa_mensal"] = 15
    assert server.api().get("/api/v1/medidores/casa-silva/faturas/2026-11").json["versao"] == 1
    assert server.api().put("/api/v1/tarifas/residencial", tariff).status == 200
    invoices = server.api().get("/api/v1/medidores/casa-silva/faturas").json["faturas"]
    closed = next(i for i in invoices if i["mes"] == "2026-11")
    assert closed["versao"] == 2
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("3")
        await settle(app, pilot)
        months = app.screen.query_one("#invoice-months", DataTable)
        assert row_ids(months) == sorted((i["mes"] for i in invoices), reverse=True)
        months.move_cursor(row=row_ids(months).index(closed["mes"]))
        await settle(app, pilot)
        assert closed["ciclo"]["rotulo"] in text_of(app, "#invoice-heading")
        assert "10/10 a 09/11" in text_of(app, "#invoice-heading")
        items = app.screen.query_one("#invoice-items", DataTable)
        assert items.row_count == len(closed["linhas"]) + 1
        assert fmt.brl(closed["total"]) in str(items.get_row_at(items.row_count - 1)[2])
        assert str(items.get_row_at(0)[1]) == closed["linhas"][0]["calculo"].rsplit(" = ", 1)[0]
        assert "v2" in text_of(app, "#invoice-versions") and "v1" in text_of(app, "#invoice-versions")
        await pilot.press("e")
        await settle(app, pilot)
        said = [n.message for n in app._notifications]
    path = tmp_path / "export" / f"fatura-casa-silva-{closed['mes']}.csv"
    assert f"Fatura exportada para {path}" in said  # the full path, wherever the app was started
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0][:3] == ["ciclo", "grupo", "descricao"]
    assert [r[2] for r in rows[1:-3]] == [line["descricao"] for line in closed["linhas"]]
    assert rows[-1][2] == "Total" and rows[-1][6] == fmt.number(closed["total"])


async def test_acknowledging_an_alert_reaches_the_server(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("4")
        await settle(app, pilot)
        alerts = server.api().get("/api/v1/medidores/casa-silva/alertas").json["alertas"]
        table = app.screen.query_one("#alerts", DataTable)
        assert row_ids(table) == [a["id"] for a in alerts]  # newest first, as the server lists them
        first = alerts[0]
        assert not first["reconhecido"]
        await pilot.press("enter")
        await settle(app, pilot)
        after = {a["id"]: a for a in server.api().get("/api/v1/medidores/casa-silva/alertas").json["alertas"]}
        assert after[first["id"]]["reconhecido"]
        assert "reconhecido" in str(table.get_row_at(0)[1])


async def test_control_pauses_the_meter_and_changes_its_multiplier(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "padaria-sol")
        await pilot.press("6")
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert server.api().get("/api/v1/medidores/padaria-sol").json["estado"] == "pausado"
        assert "pausado" in text_of(app, "#control-state")
        assert "PAUSADO" in text_of(app, "#meter-heading")
        box = app.screen.query_one("#multiplicador", Input)
        box.focus()
        box.value = "1,5"
        await pilot.press("enter")
        await settle(app, pilot)
        meter = server.api().get("/api/v1/medidores/padaria-sol").json
        assert meter["multiplicador"] == 1.5
        assert [c["comando"] for c in meter["comandos_pendentes"]] == ["pausar", "multiplicador"]
        app.screen.query_one("#pause").focus()
        await pilot.press("p")
        await settle(app, pilot)
        assert server.api().get("/api/v1/medidores/padaria-sol").json["estado"] == "ativo"


async def test_admin_edits_the_tariff_and_a_meter_key_cannot(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meter(app, pilot, "casa-silva")
        # Issue 14 #6: the heading named the tariff by its id ("tarifa residencial").
        assert text_of(app, "#meter-heading").endswith("tarifa Residencial B1 (faixas)")
        await pilot.press("6")
        await settle(app, pilot)
        app.screen.query_one("#t-nome", Input).value = "Residencial da Casa"
        app.screen.query_one("#rename-tariff").press()
        await settle(app, pilot)
        assert text_of(app, "#meter-heading").endswith("tarifa Residencial da Casa")
        assert screen is app.screen
        editor = app.screen.query_one("#t-versao", TextArea)
        version = json.loads(editor.text)
        assert version["energia"]["faixas"][0] == {"ate_kwh": 100.0, "preco": {"kwh": 0.62}}
        # A refused edit shows the server's reason with the field's path, and changes nothing.
        editor.text = json.dumps({**version, "tributos": {"icms_pct": 100}})
        app.screen.query_one("#save-tariff").press()
        await settle(app, pilot)
        assert any("tributos.icms_pct" in str(n.message) for n in app._notifications)
        version["energia"]["faixas"] = [{"ate_kwh": 100, "preco": 0.65}, {"ate_kwh": None, "preco": 0.85}]
        editor.text = json.dumps(version)
        app.screen.query_one("#save-tariff").press()
        await settle(app, pilot)
        # A price change from 2026-12-01 on, as a new version.
        editor.text = json.dumps({**version, "vigencia": "2026-12-01", "fonte": "reajuste"})
        app.screen.query_one("#new-version").press()
        await settle(app, pilot)
        assert row_ids(app.screen.query_one("#tariff-versions", DataTable)) == ["1970-01-01", "2026-12-01"]
    tariff = server.api().get("/api/v1/tarifas/residencial").json
    assert tariff["versoes"][0]["energia"]["faixas"] == [{"ate_kwh": 100.0, "preco": {"kwh": 0.65}},
                                                         {"ate_kwh": None, "preco": {"kwh": 0.85}}]
    assert tariff["versoes"][1]["fonte"] == "reajuste"

    reader = make_app(tmp_path, server.url, CASA_READ)
    async with reader.run_test(size=SIZE) as pilot:
        await open_meter(reader, pilot, "casa-silva")
        await pilot.press("6")
        await settle(reader, pilot)
        assert reader.screen.query_one("#save-tariff").disabled
        assert "administração" in text_of(reader, "#tariff-note")


async def test_which_tariff_pays_compares_the_meters_real_cycles(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    expected = server.api().get("/api/v1/medidores/casa-silva/comparar-tarifas?ciclos=12").json
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        await pilot.press("7")
        await settle(app, pilot)
        assert expected["conclusao"] in text_of(app, "#cmp-verdict").replace("\n", " ")
        table = app.screen.query_one("#cmp-cycles", DataTable)
        assert row_ids(table)[:len(expected["ciclos"])] == [c["ciclo"]["nome"] for c in reversed(expected["ciclos"])]
        total = table.get_row("total")
        assert [str(cell) for cell in total[2:]] == [fmt.brl(expected["totais"][t["id"]]) for t in expected["tarifas"]]


async def test_live_tab_draws_a_reading_as_soon_as_it_is_posted(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_meter(app, pilot, "casa-silva")
        await pilot.press("5")
        live = screen.pane("ao-vivo")
        await until(pilot, lambda: len(live.points) > 0)
        last = server.api().get("/api/v1/medidores/casa-silva").json["ultima_leitura"]
        reading = {"seq": last["seq"] + 1, "ts": int(time.time() * 1000),
                   "energia_wh": last["energia_wh"] + 10, "potencia_w": 1234.0}
        assert server.api(CASA_WRITE).post("/api/v1/medidores/casa-silva/leituras", reading).status in (200, 201)
        await until(pilot, lambda: live.points[-1].seq == reading["seq"])
        assert "1.234 W" in text_of(app, "#live-status")
        await pilot.press("1")  # leaving the tab stops the long poll
        await settle(app, pilot)
        await until(pilot, lambda: not any(w.group == "ao-vivo" and w.is_running for w in app.workers))


async def test_server_stopping_mid_session_shows_banner_keeps_app_responsive_and_recovers(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        server.stop()
        await pilot.press("f5")
        await until(pilot, lambda: app.offline_reason is not None)
        banner = app.screen.query_one("#banner")
        await pilot.pause()
        assert banner.display and "Sem conexão" in str(banner.render())
        # Still responsive: tabs change while every call fails.
        await pilot.press("3")
        await pilot.pause()
        assert app.screen.query_one("#tabs").active == "faturas"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MetersScreen) and app.screen.query_one("#banner").display
        server.start()
        await until(pilot, lambda: app.offline_reason is None)
        await settle(app, pilot)
        assert not app.screen.query_one("#banner").display
        assert app.screen.query_one("#meters", DataTable).row_count == 3


async def test_digit_keys_leave_every_tab_for_another(server: Server, tmp_path: Path):
    tabs = {"1": "visao", "2": "consumo", "3": "faturas", "4": "alertas", "5": "ao-vivo", "6": "controle",
            "7": "tarifas"}
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        # Each tab is left once: leaving one whose table had the focus used to bounce back to it.
        for key in "3542615":
            await pilot.press(key)
            await settle(app, pilot)
            assert app.screen.query_one("#tabs").active == tabs[key], f"key {key}"


async def test_a_key_refused_mid_session_leads_back_to_the_connection_screen(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, CASA_READ)
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "casa-silva")
        # Deleting a meter revokes its keys: the session's key stops working.
        assert server.api().delete("/api/v1/medidores/casa-silva").status == 204
        await pilot.press("f5")
        await until(pilot, lambda: isinstance(app.screen, ConnectScreen))
        await settle(app, pilot)
        assert "recusada" in text_of(app, "#connect-problem")
        assert app.screen.query_one("#servidor", Input).value == server.url
        app.screen.query_one("#chave", Input).value = ADMIN
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, MetersScreen)
        assert row_ids(app.screen.query_one("#meters", DataTable)) == ["escola-norte", "padaria-sol"]


async def test_palette_reaches_every_tab_action_and_theme_toggles(server: Server, tmp_path: Path):
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Ordenar por Mês kWh" in titles and "Abrir medidor" in titles
        await open_meter(app, pilot, "casa-silva")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("Aba Consumo", "Consumo: período anterior", "Faturas: exportar CSV",
                         "Alertas: reconhecer o selecionado", "Controle: pausar o medidor", "Controle: editar a tarifa"):
            assert expected in titles
        # Through the palette itself, before that tab was ever opened.
        await pilot.press("ctrl+p", *"exportar csv")
        results = app.screen.query_one(CommandList)
        await until(pilot, lambda: results.option_count > 0
                    and "exportar" in str(results.get_option_at_index(0).prompt).lower())
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.query_one("#tabs").active == "faturas"
        assert list((tmp_path / "export").glob("fatura-casa-silva-*.csv"))
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


async def test_palette_speaks_portuguese_even_when_nothing_matches(server: Server, tmp_path: Path):
    """Issue 14 #5: Textual's "Search for commands…" and "No matches found" were shown in English."""
    app = make_app(tmp_path, server.url, ADMIN)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.query_one(CommandInput).placeholder == "Busque um comando…"
        await pilot.press(*"xyzwq")
        results = app.screen.query_one(CommandList)
        # Textual adds its one disabled option half a second after a search finds nothing.
        await until(pilot, lambda: results.option_count == 1 and results.get_option_at_index(0).disabled)
        assert "Nenhum comando encontrado" in str(results.get_option_at_index(0).prompt)
        assert "No matches" not in app.export_screenshot()
