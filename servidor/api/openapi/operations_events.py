"""What the document says about energy-sensors' routes (servidor/api/events.py).

Marked deprecated, like the other old systems' routes: their contract is energy-sensors' (its
`{"error": …}` body instead of the API's envelope, a text body), checked by
tests/test_event_routes.py, so the schemathesis run leaves them out (tests/test_openapi.py).
"""
from __future__ import annotations

from typing import Any

from servidor.api.openapi.blocks import JSON, operation
from servidor.domain.clusters import SUMMARY_FIELDS

TAG = "Legado energy-sensors"
TAG_TEXT = ("As rotas do energy-sensors: eventos em linhas de texto dos sensores, guardados, e os grupos de eventos "
            "parecidos (MeanShift). Abertas (sem chave), como eram.")
_LINE = ("Device: ID=1; Fw=16071801; Evt=2; Alarms: CoilRevesed=OFF; Power: Active=1753W; Reactive=279var; "
         "Appearent=403VA; Line: Current=7.359; Voltage=230.08V; Phase=-43,841rad; Peaks: 7.33;7.29;7.37; "
         "UTC Time: 2016-10-4 16:47:50; hz: 49.87; WiFi Strength: -62")
_PARSED = {"Device": {"ID": 1, "Fw": 16071801, "Evt": 2}, "Alarms": {"CoilRevesed": False},
           "Power": {"Active": 1753, "Reactive": 279, "Appearent": 403},
           "Line": {"Current": 7.359, "Voltage": 230.08, "Phase": -43.841}, "Peaks": [7.33, 7.29, 7.37],
           "UTC Time": "2016-10-4 16:47:50", "hz": 49.87, "WiFi Strength": -62}
_BODY = {"required": True, "description": "Uma linha de evento (`text/plain`) ou o evento já interpretado "
                                          "(`application/json`: o objeto, ou uma string JSON que o contém).",
         "content": {"text/plain": {"schema": {"type": "string"}, "example": _LINE},
                     JSON: {"schema": {"type": ["object", "string"]}, "example": _PARSED}}}
_FAIL = {"description": "O que falta ou está malformado.", "content": {JSON: {"schema": {
    "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}
_FROZEN = " Rota do energy-sensors, mantida com as respostas dele; desligada com `--sem-legado`."


def event_operations() -> dict[str, dict[str, Any]]:
    cluster = {"type": "object", "required": ["label", "count", *SUMMARY_FIELDS],
               "properties": {"label": {"type": "integer", "description": "−1: eventos isolados."},
                              "count": {"type": "integer", "minimum": 1},
                              **{name: {"type": "number"} for name in SUMMARY_FIELDS}}}
    return {
        "/log/store": {"post": operation(
            TAG, "Guarda um evento", "Interpreta e guarda o evento (gravado em disco antes da resposta); a potência "
            "ativa alimenta a visão ao vivo do medidor `sensor-<ID>`, criado no primeiro evento." + _FROZEN,
            {"200": {"description": "Guardado: `{}`.", "content": {JSON: {"schema": {"type": "object"}}}},
             "400": _FAIL}, body=_BODY, open_route=True, deprecated=True)},
        "/log/parse": {"post": operation(
            TAG, "Interpreta um evento", "O evento interpretado, sem guardar nada (também `servidor --somente-parse`)."
            + _FROZEN, {"200": {"description": "O evento.", "content": {JSON: {"schema": {"type": "object"}}}},
                        "400": _FAIL}, body=_BODY, open_route=True, deprecated=True)},
        "/clusters/summary": {"get": operation(
            TAG, "Grupos de eventos", "Os grupos do último cálculo (refeito a cada 1000 eventos guardados, em "
            "segundo plano): médias de potências, corrente e tensão de cada um." + _FROZEN,
            {"200": {"description": "Os grupos.", "content": {JSON: {"schema": {
                "type": "object", "required": ["clusters"],
                "properties": {"clusters": {"type": "array", "items": cluster}}}}}}},
            open_route=True, deprecated=True)},
    }
