"""The terminal app for a solar house: the producer's overview and the site screen (Pilot, real server)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.widgets import DataTable

from tests.test_usuario_app import Server, make_app, open_meter, row_ids, server, settle, text_of  # noqa: F401
from usuario.screens.site import SiteScreen

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SIZE = (100, 32)
TZ = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def solar_house(server: Server) -> date:  # noqa: F811 (the fixture's type)
    """Site casa-solar with a net grid meter and panels, three hours of this morning; its day."""
    api = server.api()
    assert api.post("/api/v1/sites", {"id": "casa-solar", "nome": "Casa solar"}).status == 201
    for meter_id, category in (("rede-solar", "gridNet"), ("paineis", "pvProd")):
        reply = api.post("/api/v1/medidores", {"id": meter_id, "categoria": category, "site": "casa-solar",
                                               "limite_alerta_kwh": 1})
        assert reply.status == 201, reply.body
    today = (datetime.now(TZ) - timedelta(hours=3)).date()
    start = int(datetime(today.year, today.month, today.day, tzinfo=TZ).timestamp() * 1000)
    for meter_id, values in (("rede-solar", [100_000, 101_000, 100_200, 100_500]), ("paineis", [0, 200, 1_500, 1_700])):
        rows = [{"seq": i + 1, "ts": start + i * 3_600_000, "energia_wh": v} for i, v in enumerate(values)]
        assert api.post(f"/api/v1/medidores/{meter_id}/leituras", {"leituras": rows}).status == 200
    return today


async def test_a_producer_shows_its_production_instead_of_a_limit(server: Server, tmp_path: Path):  # noqa: F811
    solar_house(server)
    app = make_app(tmp_path, server.url, "chave-admin-de-teste")
    async with app.run_test(size=SIZE) as pilot:
        await open_meter(app, pilot, "paineis")
        text = text_of(app, "#ov-limite")
        assert "Produziu" in text and "não tem fatura nem limite" in text
        assert not app.screen.query_one("#limit-bar").display
        await pilot.press("escape")
        await open_meter(app, pilot, "rede-solar")
        text = text_of(app, "#ov-limite")
        assert "Importou" in text and "exportou" in text and "líquido" in text and "Créditos de energia" in text
        await pilot.press("3")  # Faturas: the compensation lines and the credit balance
        await settle(app, pilot)
        assert "créditos" in text_of(app, "#invoice-heading")


async def test_the_site_screen_separates_grid_and_solar_hour_by_hour(server: Server, tmp_path: Path):  # noqa: F811
    today = solar_house(server)
    app = make_app(tmp_path, server.url, "chave-admin-de-teste")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#meters", DataTable)
        table.move_cursor(row=row_ids(table).index("rede-solar"))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, SiteScreen) and app.screen.day == date.today()
        if today != date.today():  # three hours ago was yesterday: look at that day
            app.pop_screen()
            app.push_screen(SiteScreen("casa-solar", today))
            await settle(app, pilot)
        heading = text_of(app, "#site-heading")
        assert "Consumo 2,20 kWh" in heading and "autossuficiência 40,9" in heading
        sheet = app.screen.query_one("#site-table", DataTable)
        rows = [sheet.get_row_at(i) for i in range(sheet.row_count)]
        assert rows[:3] == [["0h", "1,000", "0,000", "0,200", "1,200", "0,200"],
                            ["1h", "0,000", "0,800", "1,300", "0,500", "0,500"],
                            ["2h", "0,300", "0,000", "0,200", "0,500", "0,200"]]
