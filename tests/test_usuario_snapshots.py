"""Snapshots of the main screens at 80x24, on fixed data and a fixed clock.

The app talks to a client with the ApiClient's methods that returns values built from fixed JSON
in the server's shapes, so the screens show the same numbers on every run; nothing shown depends
on the wall clock. Run `pytest --snapshot-update` after an intended change and look at the SVGs.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from textual.worker import WorkerState

from usuario.api import Unauthorized
from usuario.app import UsuarioApp
from usuario.config import Settings
from usuario.billing_models import Comparison, Invoice, Tariff
from usuario.models import Alert, Consumption, LiveBatch, Meter, MeterKey, MeterList

pytestmark = pytest.mark.slow

SIZE = (80, 24)
WIDE = (120, 40)
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)
# 00:20 in São Paulo: the hourly chart must still show yesterday's hours.
AFTER_MIDNIGHT = datetime(2026, 11, 22, 3, 20, tzinfo=timezone.utc)
URL = "http://127.0.0.1:5000"
KEY = "demo-admin"


def _meter(id: str, nome: str, power: float | None, today: float, month: float, total: float,
           alerts: int, limit: float, estado: str = "ativo") -> dict[str, Any]:
    return {
        "id": id, "nome": nome, "categoria": "gridImport", "fuso": "America/Sao_Paulo",
        "limite_alerta_kwh": limit, "multiplicador": 1.0, "tarifa": "residencial", "estado": estado,
        "ultima_leitura": {"seq": 4321, "ts": "2026-11-22T11:59:50-03:00", "energia_wh": 1234567.8, "potencia_w": power},
        "resumo": {"potencia_w": power, "kwh_hoje": today, "kwh_mes": month, "cobertura_mes": 0.9712,
                   "fatura_projetada": {"kwh": month * 1.4, "total": total, "total_formatado": ""},
                   "limite_uso_pct": round(100 * month / limit, 1), "alertas_ativos": alerts, "leituras": 9000},
        "alertas_ativos": [], "comandos_pendentes": [],
    }


METERS = [
    _meter("casa-silva", "Casa da família Silva", 1234.0, 8.25, 312.4, 368.93, 1, 250.0),
    _meter("padaria-sol", "Padaria Sol Nascente", 5210.0, 61.7, 1480.25, 1851.07, 0, 1500.0),
    _meter("escola-norte", "Escola Municipal Norte", None, 0.0, 987.6, 1204.5, 2, 3000.0, estado="pausado"),
]

def _line(grupo: str, descricao: str, valor: float, calculo: str) -> dict[str, Any]:
    return {"grupo": grupo, "descricao": descricao, "quantidade": None, "unidade": None, "preco": None,
            "valor": valor, "calculo": calculo, "posto": None, "vigencia": None}


def _invoice(mes: str, rotulo: str, first: str, last: str, kwh: float, lines: list, situacao: str,
             versao: int | None = None) -> dict[str, Any]:
    total = round(sum(line["valor"] for line in lines), 2)
    return {"mes": mes, "tarifa": "residencial", "tarifa_nome": "Residencial B1", "kwh_medido": kwh,
            "ciclo": {"nome": mes, "rotulo": rotulo, "primeiro_dia": first, "ultimo_dia": last},
            "linhas": lines, "subtotal": total, "tributos": 0.0, "total": total, "cobertura": 0.9712 if not versao else 1.0,
            "parcial": versao is None, "situacao": situacao, "versao": versao, "avisos": []}


INVOICES = [
    _invoice("2026-12", "dezembro/2026", "2026-11-10", "2026-12-09", 312.4, [
        _line("energia", "Consumo faixa 1 (até 100 kWh)", 62.0, "100,000 kWh × R$ 0,62 = R$ 62,00"),
        _line("energia", "Consumo faixa 2 (acima de 100 kWh)", 172.04, "212,400 kWh × R$ 0,81 = R$ 172,04"),
        _line("bandeira", "Adicional bandeira amarela (novembro/2026)", 4.16, "220,680 kWh × R$ 1,885/100 kWh = R$ 4,16"),
        _line("taxa_fixa", "Taxa fixa mensal", 12.5, "R$ 12,50 por ciclo = R$ 12,50"),
        _line("tributo", "ICMS (25 %)", 83.55, "25 % × R$ 334,21 = R$ 83,55")], "aberta"),
    _invoice("2026-11", "novembro/2026", "2026-10-10", "2026-11-09", 775.14, [
        _line("energia", "Consumo faixa 1 (até 100 kWh)", 62.0, "100,000 kWh × R$ 0,62 = R$ 62,00"),
        _line("energia", "Consumo faixa 2 (acima de 100 kWh)", 546.86, "675,140 kWh × R$ 0,81 = R$ 546,86"),
        _line("taxa_fixa", "Taxa fixa mensal", 12.5, "R$ 12,50 por ciclo = R$ 12,50"),
        _line("tributo", "ICMS (25 %)", 207.12, "25 % × R$ 828,48 = R$ 207,12")], "fechada", 1),
]

HOURS = [{"hora": h, "kwh_dias_uteis": 10.0 + (20.0 if 18 <= h < 21 else 0), "kwh_outros_dias": 4.0,
          "postos": {"residencial": None, "convencional": None,
                     "branca": "ponta" if 18 <= h < 21 else "intermediario" if h in (17, 21) else "fora_ponta"},
          "custos": {}, "diferencas": {"residencial": 0.0, "convencional": -0.4,
                                       "branca": 9.5 if 18 <= h < 21 else 2.1 if h in (17, 21) else -1.3}}
         for h in range(24)]
COMPARISON = {
    "tarifas": [{"id": "residencial", "nome": "Residencial B1 (faixas)"},
                {"id": "convencional", "nome": "Convencional B1 (exemplo)"},
                {"id": "branca", "nome": "Tarifa Branca B1 (exemplo)"}],
    "ciclos": [{"ciclo": {"nome": f"2026-{m:02d}", "rotulo": f"{name}/2026"}, "kwh": 700.0 + 10 * m, "cobertura": 1.0,
                "completo": True, "totais": {"residencial": 800.0 + m, "convencional": 790.0 + m, "branca": 830.0 + m}}
               for m, name in ((9, "setembro"), (10, "outubro"), (11, "novembro"))],
    "ciclos_completos": 3, "totais": {"residencial": 2430.0, "convencional": 2400.0, "branca": 2520.0},
    "diferencas": {"residencial": 0.0, "convencional": -30.0, "branca": 90.0}, "horas": HOURS,
    "mais_barata": "convencional", "historico_curto": False,
    "conclusao": "Convencional B1 (exemplo) compensa: R$ 30,00 a menos que Residencial B1 (faixas) em 3 ciclo(s)",
    "avisos": ["baseado em 3 ciclo(s): o consumo muda com as estações, e um ano inteiro pode dar outro resultado"],
}


ALERTS = [
    {"id": "a1", "tipo": "projecao_limite", "reconhecido": False, "criado_em": "2026-11-22T09:15:00-03:00",
     "mensagem": "no ritmo atual, o mês fecha em 402,5 kWh, acima do limite de 250,00 kWh (161% do limite); "
                 "reduza o uso no horário de ponta"},
    {"id": "a2", "tipo": "silencio", "reconhecido": True, "criado_em": "2026-11-20T03:40:00-03:00",
     "mensagem": "medidor sem leituras há 2 horas e 15 minutos (última recebida em 20/11/2026 01:25)"},
]


def _hours(start: datetime, end: datetime, offset: float) -> dict[str, Any]:
    """An hour series [start, end] in local time, up to NOW as the server stops at now."""
    zone = ZoneInfo("America/Sao_Paulo")
    rows, hour = [], start
    while hour <= end and hour.replace(tzinfo=zone) <= NOW:
        kwh = round(0.3 + offset + (1.4 if 18 <= hour.hour < 21 else 0.2 * (hour.hour % 5)), 3)
        rows.append({"rotulo": f"{hour:%Y-%m-%dT%H}", "inicio": hour.replace(tzinfo=zone).isoformat(),
                     "fim": (hour + timedelta(hours=1)).replace(tzinfo=zone).isoformat(), "kwh": kwh, "cobertura": 1.0})
        hour += timedelta(hours=1)
    return {"intervalo": "hora", "total_kwh": round(sum(r["kwh"] for r in rows), 4), "consumo": rows}


def _days(start: date, end: date, offset: float) -> dict[str, Any]:
    """A day series with a three-day gap, so the chart shows one."""
    rows = []
    day = start
    while day <= end:
        n = (day - start).days
        gap = 12 <= n <= 14
        kwh = 0.0 if gap else round(9 + offset + 4 * ((n * 7) % 5) / 4, 3)
        rows.append({"rotulo": day.isoformat(), "inicio": f"{day}T00:00:00-03:00",
                     "fim": f"{day + timedelta(days=1)}T00:00:00-03:00", "kwh": kwh, "cobertura": 0.0 if gap else 1.0})
        day += timedelta(days=1)
    return {"intervalo": "dia", "total_kwh": round(sum(r["kwh"] for r in rows), 4), "consumo": rows}


class FixedApi:
    """ApiClient's methods over the fixed data above."""

    is_meter_key = False

    def __init__(self, base_url: str, key: str | None) -> None:
        self.base_url = base_url
        self.key = key

    def close(self) -> None:
        pass

    def health(self) -> None:
        pass

    def meters(self) -> MeterList:
        if self.key != KEY:
            raise Unauthorized("chave desconhecida ou revogada")
        return MeterList.from_json({"medidores": METERS})

    def meter(self, meter_id: str) -> Meter:
        return Meter.from_json(next(m for m in METERS if m["id"] == meter_id))

    def consumption(self, meter_id: str, interval: str, start: date, end: date) -> Consumption:
        if interval == "hora":
            return Consumption.from_json(_hours(start, end, 0.0 if end.date() >= date(2026, 11, 22) else 0.3))
        return Consumption.from_json(_days(start, end, 0.0 if end >= date(2026, 11, 1) else 1.5))

    def invoices(self, meter_id: str) -> tuple[Invoice, ...]:
        return tuple(Invoice.from_json(i) for i in INVOICES)

    def invoice_listing(self, meter_id: str) -> tuple[tuple[Invoice, ...], str | None]:
        return self.invoices(meter_id), None

    def invoice_versions(self, meter_id: str, cycle: str) -> tuple:
        return ()

    def compare_tariffs(self, meter_id: str, cycles: int = 12) -> Comparison:
        return Comparison.from_json(COMPARISON)

    def alerts(self, meter_id: str) -> tuple[Alert, ...]:
        return tuple(Alert.from_json(a) for a in ALERTS)

    def tariff(self, tariff_id: str) -> Tariff:
        return Tariff.from_json({"id": tariff_id, "nome": "Residencial B1", "modalidade": "convencional", "versoes": [
            {"vigencia": "1970-01-01", "modalidade": "convencional", "fonte": "exemplo",
             "energia": {"tipo": "unico", "preco": {"kwh": 0.78}}}]})

    def meter_keys(self, meter_id: str) -> tuple[MeterKey, ...]:
        return (MeterKey("escrita", "00000000000000b1", "2026-10-01T00:00:00-03:00"),
                MeterKey("leitura", "00000000000000a1", "2026-10-01T00:00:00-03:00"))

    def live(self) -> "FixedLive":
        return FixedLive()


class FixedLive:
    """The live long poll: a solar meter's last two hours at once, then nothing new."""

    def __init__(self) -> None:
        self.sent = False

    def poll(self, meter_id: str, after_seq: int | None, wait_s: float) -> LiveBatch:
        if self.sent:
            time.sleep(min(wait_s, 0.05))
            return LiveBatch((), after_seq or 0)
        self.sent = True
        # Near noon, power high from the first reading: the chart's top-left corner, where
        # plotext put its legend, is where the line is.
        rows = [{"seq": i, "ts": (NOW - timedelta(minutes=2 * (60 - i))).isoformat(), "energia_wh": 0.0,
                 "potencia_w": 4200.0 - 30 * i + (150.0 if i % 7 == 0 else 0.0)} for i in range(60)]
        return LiveBatch.from_json({"leituras": rows, "ultimo_seq": 59})

    def close(self) -> None:
        pass


def fixed_app(tmp_path: Path, key: str = KEY, clock: datetime = NOW) -> UsuarioApp:
    # The config path is shown on the connection screen, so it is fixed too; nothing writes it.
    settings = Settings(servidor=URL, chave=key, servidor_source="--servidor", chave_source="MONITOR_CHAVE",
                        config_path=Path("/home/ana/.config/monitor-energia/usuario.toml"), exportar_para=tmp_path)
    return UsuarioApp(settings, api_factory=FixedApi, clock=lambda: clock, refresh_s=3600.0)


async def settle(pilot: Any) -> None:
    """Wait for the workers (but the live long poll, which runs while its tab is open)."""
    app = pilot.app
    for _ in range(4):
        pending = [w for w in app.workers
                   if w.group != "ao-vivo" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if pending:
            await app.workers.wait_for_complete(pending)
        await pilot.pause()


def test_connection_screen_with_a_refused_key(snap_compare: Any, tmp_path: Path) -> None:
    """A wrong key: the connection screen says what is needed and where the key came from."""
    assert snap_compare(fixed_app(tmp_path, key="chave-errada"), terminal_size=SIZE, run_before=settle)


def test_meters_list(snap_compare: Any, tmp_path: Path) -> None:
    """The meters list at 80x24: every column fits, pt-BR numbers, sorted by name."""
    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=settle)


def test_meters_list_sorted_by_month(snap_compare: Any, tmp_path: Path) -> None:
    """Ctrl+O four times: sorted by this month's kWh, largest first, the arrow on that column."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("ctrl+o", "ctrl+o", "ctrl+o", "ctrl+o")
        await settle(pilot)

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_meter_overview(snap_compare: Any, tmp_path: Path) -> None:
    """A meter's Visão geral: power in large digits, today, month, projection, limit bar."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_meter_consumption(snap_compare: Any, tmp_path: Path) -> None:
    """Consumo by day: the last 30 days beside the 30 before, a three-day gap left blank."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_meter_invoices_light_theme(snap_compare: Any, tmp_path: Path) -> None:
    """Faturas in the light theme: cycles, and the lines of the open one with how each was computed."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("3", "ctrl+t")
        await settle(pilot)

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_which_tariff_pays(snap_compare: Any, tmp_path: Path) -> None:
    """Qual tarifa?: the verdict, totals per cycle under each tariff, and the hours that make the difference."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def _on_tab(tab: str, *keys: str) -> Any:
    """run_before: open the first meter, go to tab `tab` (its digit), press `keys`."""
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press(tab, *keys)
        await settle(pilot)
    return run_before


def test_meters_list_wide(snap_compare: Any, tmp_path: Path) -> None:
    """At 120x40 the names are whole and the table spans the terminal (issue 14 #6: 40 columns were empty)."""
    assert snap_compare(fixed_app(tmp_path), terminal_size=WIDE, run_before=settle)


def test_meter_alerts_wide(snap_compare: Any, tmp_path: Path) -> None:
    """At 120x40 an alert's message uses the width there is; the heading names the tariff, not its id."""
    assert snap_compare(fixed_app(tmp_path), terminal_size=WIDE, run_before=_on_tab("4"))


def test_meter_alerts(snap_compare: Any, tmp_path: Path) -> None:
    """At 80x24 a long message ends in "…" in the table and is shown whole under it."""
    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=_on_tab("4"))


def test_meter_control(snap_compare: Any, tmp_path: Path) -> None:
    """Controle at 80x24: the commands, the tariff and its buttons, the footer whole."""
    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=_on_tab("6"))


def test_meter_consumption_by_hour_after_midnight(snap_compare: Any, tmp_path: Path) -> None:
    """At 00:20 the hourly chart shows the last 24 hours, yesterday's included, dated at midnight."""
    assert snap_compare(fixed_app(tmp_path, clock=AFTER_MIDNIGHT), terminal_size=SIZE, run_before=_on_tab("2", "h"))


def test_meter_consumption_in_reais_wide(snap_compare: Any, tmp_path: Path) -> None:
    """r: the 31 days in R$ at the projected invoice's mean price, at 120x40."""
    assert snap_compare(fixed_app(tmp_path), terminal_size=WIDE, run_before=_on_tab("2", "r"))


def test_meter_live(snap_compare: Any, tmp_path: Path) -> None:
    """Ao vivo: a solar meter's high power from the first point; no legend drawn over the line."""
    async def run_before(pilot: Any) -> None:
        await _on_tab("5")(pilot)
        live = pilot.app.screen.query_one("#pane-ao-vivo")
        for _ in range(100):
            if live.points:
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_meter_control_tariff_buttons(snap_compare: Any, tmp_path: Path) -> None:
    """At 80x24 the tariff's buttons, scrolled to, are whole ("Salvar versão" was cut), the footer too."""
    async def run_before(pilot: Any) -> None:
        await _on_tab("6")(pilot)
        save = pilot.app.screen.query_one("#save-tariff")
        save.scroll_visible(animate=False, top=True)
        await pilot.pause()
        await pilot.pause()
        screen = pilot.app.screen.region
        assert screen.contains_region(save.region) and save.region.width >= len("Salvar versão")

    assert snap_compare(fixed_app(tmp_path), terminal_size=SIZE, run_before=run_before)
