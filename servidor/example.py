"""Builds `db.json.example`: three meters, tariffs and a month of hourly history, with known keys.

The tariffs are versioned plans (servidor.billing): the three flat tariffs the example always had,
written as the plans they migrate to, and the example convencional and Tarifa Branca to compare
with; the bandeira table is the engine's example (ANEEL's values and months, with their source).
The household reads its meter on day 10 (a billing cycle from the 10th to the 9th) on a bifásica
connection; the others bill by calendar month.

Readings are carried in a `leituras_iniciais` table that the server moves into its journal on
first open (readings never live in TinyDB, which rewrites its whole file on every insert). Run `python -m servidor.example`
to regenerate the file; it is deterministic.
"""
from __future__ import annotations

import json
import math
import random
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from servidor.billing import EXAMPLE_FLAGS, EXAMPLE_TARIFFS, flags_to_json, plan_to_json
from servidor.domain.auth import Role, hash_key
from servidor.domain.tariff_migration import plan_from_flat
from servidor.domain.seed import SEED_TABLE
from servidor.store.documents import FORMAT_VERSION

ZONE = ZoneInfo("America/Sao_Paulo")
START = datetime(2026, 10, 1, tzinfo=ZONE)
DAYS = 45
# Demo keys, published in the README: anyone can use the example store, so these are not secrets.
DEMO_KEYS = {
    "casa-silva": ("ml_00000000000000a1_demo-leitura-casa", "me_00000000000000b1_demo-escrita-casa"),
    "padaria-sol": ("ml_00000000000000a2_demo-leitura-padaria", "me_00000000000000b2_demo-escrita-padaria"),
    "escola-norte": ("ml_00000000000000a3_demo-leitura-escola", "me_00000000000000b3_demo-escrita-escola"),
}
METERS = [
    {"id": "casa-silva", "nome": "Casa da família Silva", "categoria": "gridImport", "limite_alerta_kwh": 250.0, "tarifa": "residencial", "base_w": 180, "peak_w": 2200,
     "dia_leitura": 10, "ligacao": "bifasica", "id_blip": 1},
    {"id": "padaria-sol", "nome": "Padaria Sol Nascente", "categoria": "gridImport", "limite_alerta_kwh": 1500.0, "tarifa": "comercial", "base_w": 900, "peak_w": 5200},
    {"id": "escola-norte", "nome": "Escola Municipal Norte", "categoria": "gridImport", "limite_alerta_kwh": 3000.0, "tarifa": "comercial", "base_w": 600, "peak_w": 9000},
]
TARIFFS = [
    {"id": "padrao", "nome": "Tarifa padrão", "preco_kwh": 0.5, "taxa_fixa_mensal": 0.0, "impostos_pct": 0.0, "faixas": [], "moeda": "BRL"},
    {"id": "residencial", "nome": "Residencial B1 (faixas)", "preco_kwh": 0.78, "taxa_fixa_mensal": 12.5, "impostos_pct": 25.0,
     "faixas": [{"ate_kwh": 100, "preco_kwh": 0.62}, {"ate_kwh": None, "preco_kwh": 0.81}], "moeda": "BRL"},
    {"id": "comercial", "nome": "Comercial B3", "preco_kwh": 0.74, "taxa_fixa_mensal": 45.0, "impostos_pct": 27.0, "faixas": [], "moeda": "BRL"},
]


def hourly_power(hour: int, weekday: int, base_w: float, peak_w: float, rng: random.Random) -> float:
    """A plausible mean power for one hour: evening peak at home, working hours elsewhere."""
    evening = math.exp(-((hour - 19.5) ** 2) / 4.0)
    daytime = 1.0 if 7 <= hour < 18 and weekday < 5 else 0.1
    shape = max(evening, daytime * 0.8)
    return base_w + peak_w * shape * rng.uniform(0.7, 1.1)


def build() -> dict:
    rng = random.Random(2026)
    stamp = "2026-10-01T00:00:00+00:00"
    tables: dict[str, dict[str, dict]] = {"meta": {"1": {"versao_formato": FORMAT_VERSION}}}
    plans = [plan_to_json(plan_from_flat(t)) for t in TARIFFS] + [plan_to_json(p) for p in EXAMPLE_TARIFFS]
    tables["tarifas"] = {str(i + 1): plan for i, plan in enumerate(plans)}
    tables["bandeiras"] = {"1": {"id": "tabela", "tabela": flags_to_json(EXAMPLE_FLAGS)}}
    tables["medidores"] = {}
    tables["chaves"] = {}
    tables[SEED_TABLE] = {}
    for n, spec in enumerate(METERS, start=1):
        tables["medidores"][str(n)] = {
            "id": spec["id"], "nome": spec["nome"], "categoria": spec["categoria"], "fuso": "America/Sao_Paulo",
            "limite_alerta_kwh": spec["limite_alerta_kwh"], "multiplicador": 1.0, "tarifa": spec["tarifa"],
            "estado": "ativo", "silencio_s": 900, "dia_leitura": spec.get("dia_leitura"),
            "ligacao": spec.get("ligacao"), **({"id_blip": spec["id_blip"]} if "id_blip" in spec else {}),
            "criado_em": stamp, "atualizado_em": stamp,
        }
        read_key, write_key = DEMO_KEYS[spec["id"]]
        for key, role in ((read_key, Role.READ), (write_key, Role.WRITE)):
            tables["chaves"][str(len(tables["chaves"]) + 1)] = {
                "id_chave": key.split("_")[1], "hash": hash_key(key), "papel": role.value, "medidor": spec["id"]}
        energy = 0.0
        rows = []
        for h in range(DAYS * 24):
            moment = START + timedelta(hours=h)
            rows.append([h + 1, int(moment.timestamp() * 1000), round(energy, 1)])
            energy += hourly_power(moment.hour, moment.weekday(), spec["base_w"], spec["peak_w"], rng)
        tables[SEED_TABLE][str(n)] = {"medidor": spec["id"], "leituras": rows}
    return tables


if __name__ == "__main__":
    json.dump(build(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
