"""The schema of consumption, with every bound read from the calendar's rules (tariffs:
schemas_tariffs.py; invoices and the comparison: schemas_invoices.py)."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import instant, obj
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS


def consumption_schemas() -> dict[str, Any]:
    return {
        "Consumo": obj({
            "medidor": {"type": "string"},
            "intervalo": {"enum": list(INTERVALS)},
            "fuso": {"type": "string"},
            "unidade": {"const": "kWh"},
            "total_kwh": {"type": "number"},
            "consumo": {"type": "array", "maxItems": MAX_BUCKETS, "items": obj({
                "rotulo": {"type": "string", "description": "Hora `AAAA-MM-DDTHH:MM±HH:MM`, dia `AAAA-MM-DD` "
                                                            "ou mês `AAAA-MM`, no calendário local."},
                "inicio": instant("Início do período."),
                "fim": instant("Fim do período (exclusivo)."),
                "kwh": {"type": "number"},
                "cobertura": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "Fração do período coberta por leituras."},
                "parcial": {"const": True, "description": "O período contém o instante atual."},
            }, ["rotulo", "inicio", "fim", "kwh", "cobertura"])},
        }, ["medidor", "intervalo", "fuso", "unidade", "total_kwh", "consumo"]),
    }
