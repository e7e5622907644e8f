"""Invoices per billing cycle, computed by the billing engine; a closed cycle's invoice is recorded
and re-issued as a new version when late readings, a tariff or the bandeira table change it.

A cycle runs from the meter's reading day (`dia_leitura`) to the day before the next, and is named
by the month the bill is issued in (servidor.billing.cycles); without a reading day it is the
calendar month. Reading an invoice never writes the document store: a closed cycle whose invoice
is new or changed gets its next version at once (in memory, so every reader sees the same one),
and the housekeeping thread records the pending versions in one write (`flush`). A crash before
that loses no money, only the record: the next read issues the same version again.

Only meters that consume energy from the grid are billed (`categoria`): a producer or an export
meter has no energy bill (its injected energy will compensate the consuming meter's bill: the
engine's `compensacao` group), and water and gas meters count m³, never priced at an electricity
tariff.
"""
from __future__ import annotations

import logging
import threading
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from servidor.billing import Ciclo, PerfilConsumo, cycle_for_day, invoice_for, parse_cycle
from servidor.billing.calendar import local_date
from servidor.billing.usage import DiaConsumo
from servidor.domain.atomic import Tables, atomic
from servidor.domain.credits import Credits
from servidor.domain.errors import Conflict, NotFound
from servidor.domain.gate import HeavyReads
from servidor.domain.meters import Meter, now_iso
from servidor.domain.tariffs import TariffBook, refused
from servidor.domain.usage_profile import UsageReader, resolution
from servidor.store.documents import DocumentStore
from servidor.store.interface import ReadingsBackend

INVOICES = "faturas"
# Invoices are listed from the first cycle with readings, but never more than this many cycles
# back: ten years of monthly invoices is more than any screen shows.
MAX_MONTHS = 120
# Versions kept per cycle: a cycle re-issued more often than this (a tariff edited over and over)
# keeps its first version and the latest ones; version numbers keep counting.
MAX_KEPT_VERSIONS = 24
CONSUMING = ("gridImport", "gridCons", "gridSub", "gridNet")
NO_BILL = {
    "pvProd": "produz energia (geração solar): não tem fatura de energia; a energia que injeta compensa a "
              "fatura do medidor da ligação",
    "heatProd": "produz calor: não tem fatura de energia elétrica",
    "gridExport": "mede a energia enviada à rede: não tem fatura de energia; essa energia compensa a fatura do "
                  "medidor da ligação",
    "gridWater": "conta m³ de água: nunca é cobrado por uma tarifa de energia elétrica (o servidor não calcula "
                 "faturas de água)",
    "gridGas": "conta m³ de gás: nunca é cobrado por uma tarifa de energia elétrica (o servidor não calcula "
               "faturas de gás)",
}
log = logging.getLogger("servidor.faturas")


def no_bill_reason(meter: Meter) -> str | None:
    """Why a meter has no energy bill, or None when it is billed."""
    reason = NO_BILL.get(meter.categoria)
    return None if reason is None else f"o medidor {meter.id} ({meter.categoria}) {reason}"


def _versions_of(record: dict[str, Any]) -> dict[str, Any]:
    """A recorded cycle; records of the monthly invoices before cycles become its versions."""
    if "versoes" in record:
        return record
    version = {"versao": record.get("versao", 1), "emitida_em": record.get("reemitida_em") or record.get("emitida_em"),
               "fatura": record.get("fatura", {})}
    return {"chave": record["chave"], "medidor": record["medidor"], "ciclo": record.get("mes"), "versoes": [version],
            "emitida_em": record.get("emitida_em")}


def check_billed(meter: Meter) -> None:
    """Conflict (409 `sem_fatura`) for a meter that has no energy bill, saying why."""
    reason = no_bill_reason(meter)
    if reason is not None:
        raise Conflict(reason, code="sem_fatura")


class Invoices:
    def __init__(self, docs: DocumentStore, readings: ReadingsBackend, tariffs: TariffBook, heavy: HeavyReads,
                 usage: UsageReader, connection: Callable[[Meter], str | None] = lambda meter: meter.ligacao) -> None:
        self._docs = docs
        self._readings = readings
        self._tariffs = tariffs
        self._heavy = heavy
        self._usage = usage
        self._connection = connection  # the meter's ligacao, else its site's
        self._credits = Credits(readings, connection)
        self._lock = threading.Lock()
        self._recorded: dict[str, dict[str, Any]] = {d["chave"]: _versions_of(d) for d in docs.all(INVOICES)}
        self._pending: dict[str, dict[str, Any]] = {}
        # Documents shared by several servers: each flush merges with what the others recorded.
        self._shared = bool(getattr(docs, "shared", False))

    # -- answers -----------------------------------------------------------------------------------

    def for_cycle(self, meter: Meter, text: str, now_ms: int) -> dict[str, Any]:
        """The invoice of a cycle ("AAAA-MM" or a day in it); NotFound for a cycle not begun."""
        check_billed(meter)
        ciclo = self._cycle(meter, text, now_ms)
        with self._heavy.turn():
            credits = self._credits.chain(meter, ciclo) if self._credits.injects(meter) else {}
            return self._issue(meter, ciclo, self._profile(meter, ciclo.primeiro_dia, ciclo.ultimo_dia), now_ms,
                               credits)

    def listing(self, meter: Meter, now_ms: int) -> dict[str, Any]:
        """Every cycle's invoice, from the open one back to the first with readings."""
        reason = no_bill_reason(meter)
        if reason is not None:
            return {"medidor": meter.id, "faturas": [], "sem_fatura": reason}
        cycles = self._cycles(meter, now_ms)
        if not cycles:
            return {"medidor": meter.id, "faturas": []}
        with self._heavy.turn():
            profile = self._profile(meter, cycles[-1].primeiro_dia, cycles[0].ultimo_dia)
            credits = self._credits.chain(meter, cycles[0]) if self._credits.injects(meter) else {}
            return {"medidor": meter.id, "faturas": [self._issue(meter, c, profile, now_ms, credits) for c in cycles]}

    def versions(self, meter: Meter, text: str, now_ms: int) -> dict[str, Any]:
        """The recorded versions of a closed cycle (issuing the current one first if it changed)."""
        current = self.for_cycle(meter, text, now_ms)
        if current["situacao"] != "fechada":
            raise Conflict(f"o ciclo {current['mes']} ainda está aberto: só ciclos fechados têm versões",
                           code="ciclo_aberto")
        record = self._record(meter, current["mes"])
        return {"medidor": meter.id, "ciclo": current["ciclo"],
                "versoes": [_summary(v) for v in reversed(record["versoes"])]}

    def version(self, meter: Meter, text: str, number: int, now_ms: int) -> dict[str, Any]:
        current = self.for_cycle(meter, text, now_ms)
        record = self._record(meter, current["mes"]) if current["situacao"] == "fechada" else None
        found = next((v for v in record["versoes"] if v["versao"] == number), None) if record else None
        if found is None:
            raise NotFound(f"a fatura de {current['mes']} não tem a versão {number}")
        return {"medidor": meter.id, "ciclo": current["mes"], "versao": found["versao"],
                "emitida_em": found["emitida_em"], "fatura": found["fatura"]}

    def difference(self, meter: Meter, text: str, before: int, after: int, now_ms: int) -> dict[str, Any]:
        """What changed from one version to another, line by line."""
        old, new = self.version(meter, text, before, now_ms), self.version(meter, text, after, now_ms)
        return {"medidor": meter.id, "ciclo": new["ciclo"], "de": _summary(old), "para": _summary(new),
                "diferenca_total": float(_cents(new["fatura"].get("total")) - _cents(old["fatura"].get("total"))),
                "linhas": _line_changes(old, new)}

    def projected_total(self, meter: Meter, now_ms: int) -> dict[str, Any] | None:
        """This cycle's invoice if the pace so far holds to its end; None for a meter not billed, or
        whose tariff has no version in force on the cycle's first day."""
        if no_bill_reason(meter) is not None:
            return None
        ciclo = cycle_for_day(local_date(meter.tz, now_ms), meter.dia_leitura)
        plan = self._tariffs.for_meter(meter.tarifa)
        if ciclo.primeiro_dia < plan.versoes[0].vigencia:
            return None  # the tariff starts within or after this cycle: nothing prices all of it
        start, end = ciclo.bounds_ms(meter.tz)
        profile = self._profile(meter, ciclo.primeiro_dia, ciclo.ultimo_dia)
        factor = Decimal(1)
        if now_ms > start:
            factor = Decimal(end - start) / Decimal(min(now_ms, end) - start)
            profile = PerfilConsumo({day: DiaConsumo(day, tuple(kwh * factor for kwh in found.kwh), found.cobertura)
                                     for day, found in profile.dias.items()})
        done = None
        if self._credits.injects(meter):  # injection keeps its pace too, against the credits carried in
            consumed = sum((sum(day.kwh) for day in profile.dias.values()), Decimal(0))
            done = self._credits.projected(meter, ciclo, consumed, factor)
        invoice = refused(lambda: invoice_for(plan, ciclo, profile, self._tariffs.flags(), self._connection(meter),
                                              done))
        return {"kwh": float(invoice.kwh_medido), "total": float(invoice.total),
                "total_formatado": invoice.to_json()["total_formatado"]}

    def credit_balance(self, meter: Meter, now_ms: int) -> float | None:
        """kWh of net-metering credit after the current cycle (None: the meter does not inject)."""
        if no_bill_reason(meter) is not None or not self._credits.injects(meter):
            return None
        ciclo = cycle_for_day(local_date(meter.tz, now_ms), meter.dia_leitura)
        done = self._credits.chain(meter, ciclo).get(ciclo.nome)
        return 0.0 if done is None else float(done.saldo_kwh)

    # -- computing and issuing -------------------------------------------------------------------

    def _cycle(self, meter: Meter, text: str, now_ms: int) -> Ciclo:
        ciclo = refused(lambda: parse_cycle(text, meter.dia_leitura))
        if ciclo.primeiro_dia > local_date(meter.tz, now_ms):
            raise NotFound(f"a fatura de {ciclo.nome} ainda não existe: o ciclo começa em "
                           f"{ciclo.primeiro_dia.isoformat()}")
        return ciclo

    def _cycles(self, meter: Meter, now_ms: int) -> list[Ciclo]:
        """From the open cycle back to the first with readings; a cycle that starts before the
        tariff's first version cannot be priced and is not listed."""
        today = local_date(meter.tz, now_ms)
        first_ts = self._readings.first_ts(meter.stream)
        first = today if first_ts is None else local_date(meter.tz, min(first_ts, now_ms))
        cycles = [cycle_for_day(today, meter.dia_leitura)]
        while cycles[-1].primeiro_dia > first and len(cycles) < MAX_MONTHS:
            cycles.append(cycle_for_day(date.fromordinal(cycles[-1].primeiro_dia.toordinal() - 1), meter.dia_leitura))
        since = self._tariffs.for_meter(meter.tarifa).versoes[0].vigencia
        return [cycle for cycle in cycles if cycle.primeiro_dia >= since]

    def _profile(self, meter: Meter, first: date, last: date) -> PerfilConsumo:
        plan = self._tariffs.for_meter(meter.tarifa)
        return self._usage.profile(meter, first, last, resolution([plan], first, last))

    def _issue(self, meter: Meter, ciclo: Ciclo, profile: PerfilConsumo, now_ms: int,
               credits: dict[str, Any] | None = None) -> dict[str, Any]:
        """The cycle's invoice (with its compensation, for a meter that injects), recorded as a
        new version when a closed cycle's JSON changed."""
        plan = self._tariffs.for_meter(meter.tarifa)
        done = (credits or {}).get(ciclo.nome)
        invoice = refused(lambda: invoice_for(plan, ciclo, profile, self._tariffs.flags(), self._connection(meter), done))
        body = {"medidor": meter.id, "mes": ciclo.nome, **invoice.to_json()}
        if ciclo.ultimo_dia >= local_date(meter.tz, now_ms):
            return {**body, "parcial": True, "situacao": "aberta"}
        body["parcial"] = False
        key = f"{meter.stream}/{ciclo.nome}"
        with self._lock:
            record = self._pending.get(key) or self._recorded.get(key)
            last = record["versoes"][-1] if record else None
            if last is None or last["fatura"] != body:
                version = {"versao": 1 if last is None else last["versao"] + 1, "emitida_em": now_iso(), "fatura": body}
                kept = (record["versoes"] if record else []) + [version]
                if len(kept) > MAX_KEPT_VERSIONS:
                    kept = kept[:1] + kept[-(MAX_KEPT_VERSIONS - 1):]
                record = {"chave": key, "medidor": meter.id, "ciclo": ciclo.nome, "versoes": kept,
                          "emitida_em": record["emitida_em"] if record else version["emitida_em"]}
                self._pending[key] = record
            last = record["versoes"][-1]
        return {**body, "situacao": "fechada", "versao": last["versao"], "emitida_em": record["emitida_em"],
                "reemitida_em": last["emitida_em"] if last["versao"] > 1 else None}

    def _record(self, meter: Meter, name: str) -> dict[str, Any]:
        key = f"{meter.stream}/{name}"
        with self._lock:
            return self._pending.get(key) or self._recorded[key]

    def flush(self) -> int:
        """Record the versions issued since the last flush, in one write; returns how many."""
        with self._lock:
            pending = list(self._pending.values())
        if not pending:
            return 0

        def change(tables: Tables) -> list[dict[str, Any]]:
            stored = []
            for record in pending:
                if self._shared:
                    found = tables.find(INVOICES, "chave", record["chave"])
                    record = _merged(None if found is None else _versions_of(found), record)
                tables.upsert(INVOICES, "chave", record)
                stored.append(record)
            return stored

        stored = atomic(self._docs, change)
        with self._lock:
            for record, written in zip(pending, stored):
                # A record re-issued or forgotten (meter deleted) meanwhile stays as it is now.
                if self._pending.get(record["chave"]) is record:
                    del self._pending[record["chave"]]
                    self._recorded[record["chave"]] = written
        return len(pending)

    # -- deletion ------------------------------------------------------------------------------

    @staticmethod
    def remove_rows(tables: Tables, meter_id: str) -> None:
        tables.remove(INVOICES, "medidor", meter_id)

    def forget(self, meter_id: str) -> None:
        with self._lock:
            for store in (self._recorded, self._pending):
                for key in [k for k, r in store.items() if r["medidor"] == meter_id]:
                    del store[key]


def _cents(value: Any) -> Decimal:
    return Decimal(repr(float(value or 0))).quantize(Decimal("0.01"))


def _summary(version: dict[str, Any]) -> dict[str, Any]:
    body = version["fatura"]
    return {"versao": version["versao"], "emitida_em": version["emitida_em"], "tarifa": body.get("tarifa"),
            "kwh_medido": body.get("kwh_medido", body.get("kwh")), "total": body.get("total")}


def _lines(body: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    """Lines by (group, description); invoices recorded before cycles had `itens`, without groups."""
    found: dict[tuple[str, str], Decimal] = {}
    for line in body.get("linhas") or [{"grupo": "anterior", **item} for item in body.get("itens", [])]:
        key = (str(line.get("grupo")), str(line.get("descricao")))
        found[key] = found.get(key, Decimal(0)) + _cents(line.get("valor"))
    return found


def _line_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    before, after = _lines(old["fatura"]), _lines(new["fatura"])
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        out.append({"grupo": key[0], "descricao": key[1], "de": None if a is None else float(a),
                    "para": None if b is None else float(b), "diferenca": float((b or 0) - (a or 0))})
    return out


def _merged(stored: dict[str, Any] | None, record: dict[str, Any]) -> dict[str, Any]:
    """`record` issued here, merged into the one another server stored: the same invoice is not
    issued twice, a different one becomes that record's next version."""
    if stored is None:
        return record
    last, theirs = record["versoes"][-1], stored["versoes"][-1]
    if theirs["fatura"] == last["fatura"]:
        return stored
    kept = stored["versoes"] + [{**last, "versao": theirs["versao"] + 1}]
    if len(kept) > MAX_KEPT_VERSIONS:
        kept = kept[:1] + kept[-(MAX_KEPT_VERSIONS - 1):]
    return {**stored, "versoes": kept}
