"""What the document says about blipserver's routes (servidor/api/blip.py).

They are marked deprecated, like system 004's: their contract is blipserver's (a JavaScript
content type, arrays of numbers, OPTIONS 200), kept for its clients and checked byte for byte by
tests/test_blip_routes.py, so the schemathesis run leaves them out (tests/test_openapi.py).
"""
from __future__ import annotations

from typing import Any

from servidor.api.blip import MAX_DIGITS
from servidor.api.openapi.blocks import operation
from servidor.domain.blinks import MAX_BUCKETS, MAX_POINTS

TAG = "Legado blipserver"
TAG_TEXT = ("As rotas do blipserver (contador de pulsos do LED do medidor), com as respostas dele: arrays JSON "
            "de números, `text/javascript`. O medidor é o de `id_blip`; sem chave só os marcados `publico`.")
_JS = "text/javascript"
_POINT = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2,
          "description": "[instante_ms, ms desde o pulso anterior]"}
_ACCESS = (" Medidor público (`publico: true`): sem chave. Os outros: uma chave que leia o medidor, em "
           "`Authorization: Bearer` ou `?chave=`.")
_FROZEN = " Rota do blipserver, mantida com as respostas dele."
_ERRORS = ("400", "401", "403", "404")


# Examples: the demo store's casa-silva has id_blip 1; instants around its readings.
_EXAMPLES = {"id": "1", "ms": "3600000", "instante": "1792800000000", "inicio": "1792800000000",
             "intervalo": "3600000", "quantidade": "24", "fim": "1792886400000"}


def _number(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": f"^[0-9]{{1,{MAX_DIGITS}}}$"}, "example": _EXAMPLES[name]}


def _key() -> dict[str, Any]:
    return {"name": "chave", "in": "query", "required": False, "schema": {"type": "string"},
            "description": "Chave de leitura (ou de administração), para quem não pode mandar Authorization."}


def _op(summary: str, description: str, schema: dict[str, Any], *params: dict[str, Any],
        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    responses = {"200": {"description": "A resposta do blipserver.", "content": {_JS: {"schema": schema}}},
                 **(extra or {})}
    return {"get": operation(TAG, summary, description + _ACCESS + _FROZEN, responses, errors=_ERRORS,
                             parameters=[_number("id", "O `id_blip` do medidor."), *params, _key()],
                             deprecated=True)}


def blip_operations() -> dict[str, dict[str, Any]]:
    points = {"type": "array", "items": _POINT}
    since = _number("inicio", "Instante inicial, em ms desde 1970.")
    buckets = (since, _number("intervalo", "Tamanho de cada intervalo, em ms (≥ 1)."),
               _number("quantidade", f"Quantos intervalos (no máximo {MAX_BUCKETS})."))
    pairs = {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}
    return {
        "/blip.html": {"get": operation(
            TAG, "Gráfico ao vivo", "A página do blipserver: a potência a cada pulso, por `/blip/{id}`. "
            "Parâmetros da página: `id`, `n` (pulsos por kWh) e `chave`.",
            {"200": {"description": "A página.", "content": {"text/html": {"schema": {"type": "string"}}}}},
            open_route=True, deprecated=True)},
        "/blip/{id}": _op("Próximo pulso (espera)", "Espera o próximo pulso e responde `[instante, ms]`; sem "
                          "pulso em 55 s, 204 (peça de novo). A espera não ocupa thread do servidor.", _POINT,
                          extra={"204": {"description": "Nenhum pulso durante a espera."}}),
        "/last/{id}": _op("Último pulso", "`[instante, ms]` do último pulso (`[]` antes do primeiro).", _POINT),
        "/last/{id}/{ms}": _op("Pulsos recentes", f"Os pulsos dos últimos `ms` milissegundos, do mais antigo, no "
                               f"máximo {MAX_POINTS}.", points, _number("ms", "Quantos ms para trás.")),
        "/since/{id}/{instante}": _op(
            "Pulsos desde um instante", f"Pulsos com instante ≥ `instante`, do mais antigo, no máximo {MAX_POINTS}; "
            "a próxima página começa no último instante + 1.", points,
            _number("instante", "Instante em ms desde 1970.")),
        "/aggregate/{id}/{inicio}/{intervalo}/{quantidade}": _op(
            "Pulsos por intervalo", "`[[deslocamento, pulsos], …]` com deslocamento = intervalo × ⌊(instante − "
            "inicio) / intervalo⌋; só intervalos com pulsos.", pairs, *buckets),
        "/aggregate_hourly/{id}/{inicio}/{intervalo}/{quantidade}": _op(
            "Wh por intervalo (da tabela horária)", "Os mesmos intervalos, somando a energia (Wh) das horas UTC "
            "que começam em cada um.", pairs, *buckets),
        "/hourly/{id}/{inicio}/{fim}": _op(
            "Tabela horária", "`[[início da hora, pulsos, W médio, menor ms, maior ms], …]` por hora UTC, da hora "
            "de `inicio` até antes de `fim`. W médio = 3600·1000·1000·pulsos / (N · soma dos ms).",
            {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 5, "maxItems": 5}},
            _number("inicio", "Instante inicial em ms."), _number("fim", "Instante final (exclusive) em ms.")),
        "/usage/{id}/{ms}": _op("Pulsos recentes (contagem)", "`[pulsos nos últimos ms]`.",
                                {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 1},
                                _number("ms", "Quantos ms para trás.")),
    }
