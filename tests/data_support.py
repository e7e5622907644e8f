"""Builders shared by the data-in/out tests: a server's files with meters and readings, and what a
user compares between two of them (readings, invoices, daily consumption)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from servidor.app import readings_dir
from servidor.store.documents import DocumentStore
from servidor.store.readings import ReadingStore
from tests.conftest import Running, start_server, stop_server

M = "/api/v1/medidores"
# 2026-08-01T00:00:00-03:00 in America/Sao_Paulo (no DST since 2019).
AUG_1 = 1_785_553_200_000
MIN = 60_000


@contextmanager
def running(db: Path, **settings: Any) -> Iterator[Running]:
    server = start_server(DocumentStore.open(db), ReadingStore.open(readings_dir(db)), db, **settings)
    try:
        yield server
    finally:
        stop_server(server)


def household(seq0: int, n: int, step_min: int = 5, start_ms: int = AUG_1, base_wh: float = 0.0) -> list[dict]:
    """`n` readings every `step_min` minutes: a counter rising by an uneven amount each time."""
    out, energy = [], base_wh
    for i in range(n):
        energy += 10.0 + (i * 7919) % 97 / 10
        out.append({"seq": seq0 + i, "ts": start_ms + i * step_min * MIN, "energia_wh": round(energy, 1),
                    "potencia_w": float((i * 31) % 2000)})
    return out


def send(server: Running, write_key: str, meter_id: str, readings: list[dict]) -> None:
    agent = server.client(write_key)
    try:
        for start in range(0, len(readings), 1000):
            reply = agent.post(f"{M}/{meter_id}/leituras", {"leituras": readings[start:start + 1000]})
            assert reply.status == 200 and not reply.json.get("rejeitadas"), reply.body
    finally:
        agent.close()


def server_with_history(db: Path, meters: dict[str, list[dict]]) -> None:
    """A server's files (db.json and its readings) holding `meters` with these readings."""
    with running(db) as server:
        for meter_id, readings in meters.items():
            write, _ = server.create_meter(meter_id, dia_leitura=10)
            send(server, write, meter_id, readings)


def every_reading(server: Running, meter_id: str) -> list[dict]:
    """The meter's raw readings as the API pages them."""
    readings, path = [], f"{M}/{meter_id}/leituras?limite=10000"
    while path:
        page = server.admin.get(path).json
        readings += page["leituras"]
        path = page.get("proxima_pagina")
    return readings


def what_a_user_sees(server: Running, meter_ids: list[str], months: list[str]) -> dict:
    """Every raw reading, each month's invoice and the daily consumption, per meter."""
    seen: dict[str, Any] = {}
    for meter_id in meter_ids:
        seen[meter_id] = {
            "leituras": every_reading(server, meter_id),
            # when each server issued the invoice differs, and says nothing of its content
            "faturas": {m: {k: v for k, v in server.admin.get(f"{M}/{meter_id}/faturas/{m}").json.items()
                            if k != "emitida_em"} for m in months},
            "dias": server.admin.get(f"{M}/{meter_id}/consumo?intervalo=dia&de=2026-07-01&ate=2026-11-30").json,
        }
    return seen


def differences(x: Any, y: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ, as paths (for a readable assertion message)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for k in sorted(x.keys() | y.keys(), key=str) for d in differences(x.get(k), y.get(k), f"{path}/{k}")]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [d for i, (p, q) in enumerate(zip(x, y)) for d in differences(p, q, f"{path}[{i}]")]
    return [] if x == y else [f"{path}: {str(x)[:120]} != {str(y)[:120]}"]
