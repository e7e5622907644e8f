"""Invoices per billing cycle, their versions, and "which tariff is cheaper?" for one meter."""
from __future__ import annotations

from servidor.api.call import Call, now_ms, ok
from servidor.billing.cycles import MAX_CYCLES
from servidor.domain.auth import require_read
from servidor.domain.errors import InvalidInput
from servidor.domain.tariff_comparison import DEFAULT_CYCLES
from shared.http.messages import Response

# Invoice versions are numbered from 1; a cycle re-issued a million times is not one to page through.
MAX_VERSION = 1_000_000
# A tariff id is at most 64 characters; eight of them, with commas, fit in this.
MAX_TARIFF_LIST = 8 * 65


def list_invoices(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    return ok(call.services.invoices.listing(meter, now_ms()))


def get_invoice(call: Call, id: str, ciclo: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    return ok(call.services.invoices.for_cycle(meter, ciclo, now_ms()))


def list_invoice_versions(call: Call, id: str, ciclo: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    return ok(call.services.invoices.versions(meter, ciclo, now_ms()))


def _version_number(text: str, name: str) -> int:
    if not text.isdigit() or len(text) > 7 or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidInput(f"{name} deve ser um número de versão (1 a {MAX_VERSION})", campo=name)
    return int(text)


def get_invoice_version(call: Call, id: str, ciclo: str, versao: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    return ok(call.services.invoices.version(meter, ciclo, _version_number(versao, "versao"), now_ms()))


def invoice_differences(call: Call, id: str, ciclo: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    for name in ("de", "para"):
        if not call.query.get(name):
            raise InvalidInput(f"informe {name}: as versões a comparar (?de=1&para=2)", campo=name)
    before, after = (_version_number(call.query[name], name) for name in ("de", "para"))
    return ok(call.services.invoices.difference(meter, ciclo, before, after, now_ms()))


def compare_tariffs(call: Call, id: str) -> Response:
    require_read(call.principal, id)
    meter = call.services.meters.get(id)
    cycles = call.query_int("ciclos", DEFAULT_CYCLES, 1, MAX_CYCLES)
    raw = call.query.get("tarifas") or ""
    if len(raw) > MAX_TARIFF_LIST:
        raise InvalidInput("tarifas: lista longa demais", campo="tarifas")
    wanted = [t.strip() for t in raw.split(",") if t.strip()] or None
    return ok(call.services.comparison.compare(meter, cycles, wanted, now_ms()))
