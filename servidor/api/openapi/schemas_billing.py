"""The schema of consumption, with every bound read from the calendar's rules (tariffs:
schemas_tariffs.py; invoices and the comparison: schemas_invoices.py)."""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import instant, obj
from servidor.domain.categories import FIGURES, MEASURE
from servidor.billing.calendar import INTERVALS, MAX_BUCKETS


BUCKET_FIGURES = {
    "kwh": {"type": "number", "description": "A grandeza do medidor (`grandeza`): consumo, produção ou exportação."},
    "importado_kwh": {"type": "number", "description": "Energia tomada da rede (gridImport, gridNet, dois contadores)."},
    "exportado_kwh": {"type": "number", "description": "Energia enviada à rede (gridExport, gridNet, dois contadores)."},
    "liquido_kwh": {"type": "number", "description": "Importado − exportado; negativo quando exportou mais."},
    "producao_kwh": {"type": "number", "description": "Energia produzida (pvProd, heatProd)."},
    "m3": {"type": "number", "description": "Volume (gridWater, gridGas), nunca somado com energia."},
}


def consumption_schemas() -> dict[str, Any]:
    return {
        "Consumo": obj({
            "medidor": {"type": "string"},
            "intervalo": {"enum": list(INTERVALS)},
            "fuso": {"type": "string"},
            "categoria": {"type": "string"},
            "grandeza": {"enum": sorted(set(MEASURE.values())), "description": "O que `kwh` mede."},
            "unidade": {"enum": ["kWh", "m³"]},
            "total_kwh": {"type": "number", "description": "Soma de `kwh` (ausente para água e gás)."},
            "totais": obj({name: {"type": "number"} for name in FIGURES}, description="A soma de cada grandeza."),
            "consumo": {"type": "array", "maxItems": MAX_BUCKETS, "items": obj({
                "rotulo": {"type": "string", "description": "Hora `AAAA-MM-DDTHH:MM±HH:MM`, dia `AAAA-MM-DD` "
                                                            "ou mês `AAAA-MM`, no calendário local."},
                "inicio": instant("Início do período."),
                "fim": instant("Fim do período (exclusivo)."),
                **BUCKET_FIGURES,
                "cobertura": {"type": "number", "minimum": 0, "maximum": 1,
                              "description": "Fração do período coberta por leituras."},
                "parcial": {"const": True, "description": "O período contém o instante atual."},
            }, ["rotulo", "inicio", "fim", "cobertura"])},
        }, ["medidor", "intervalo", "fuso", "categoria", "grandeza", "unidade", "totais", "consumo"]),
    }
