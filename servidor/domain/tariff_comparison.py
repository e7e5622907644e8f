"""Which tariff is cheaper for this meter? Its real consumption, quarter hour by quarter hour, over
the last closed cycles, billed under its own tariff and every other one in the book.

The meter's tariff is the reference (first); the others in the book follow in id order (but not
the `padrao` placeholder price of system 004), at most servidor.billing.comparison.MAX_TARIFFS in
all, or exactly those named in `tarifas`. A cycle that
starts before some compared tariff's first version cannot be billed under it: such cycles are
left out, and the answer says how many. The verdict, the hours that make the difference and
"histórico curto demais" when no cycle has enough readings are the engine's (docs/billing.md).
"""
from __future__ import annotations

from typing import Any, Callable

from servidor.billing import PlanoTarifario, closed_cycles, compare_tariffs
from servidor.billing.comparison import MAX_TARIFFS
from servidor.billing.calendar import local_date
from servidor.domain.errors import InvalidInput
from servidor.domain.gate import HeavyReads
from servidor.domain.invoices import check_billed
from servidor.domain.meters import Meter
from servidor.domain.tariff_migration import DEFAULT_ID
from servidor.domain.tariffs import TariffBook, refused
from servidor.domain.usage_profile import Resolution, UsageReader, resolution
from servidor.store.interface import ReadingsBackend

DEFAULT_CYCLES = 12


class TariffComparison:
    def __init__(self, tariffs: TariffBook, usage: UsageReader, readings: ReadingsBackend, heavy: HeavyReads,
                 connection: Callable[[Meter], str | None] = lambda meter: meter.ligacao) -> None:
        self._connection = connection  # the meter's ligacao, else its site's
        self._tariffs = tariffs
        self._readings = readings
        self._usage = usage
        self._heavy = heavy

    def plans_for(self, meter: Meter, wanted: list[str] | None) -> list[PlanoTarifario]:
        """The meter's tariff first, then the others (or those `wanted`), at most MAX_TARIFFS."""
        own = self._tariffs.for_meter(meter.tarifa)
        if wanted:
            plans = [own] + [self._tariffs.get(tariff_id) for tariff_id in dict.fromkeys(wanted) if tariff_id != own.id]
            if len(plans) > MAX_TARIFFS:
                raise InvalidInput(f"compare no máximo {MAX_TARIFFS} tarifas (a do medidor e mais "
                                   f"{MAX_TARIFFS - 1})", campo="tarifas")
        else:
            # 004's default price is a placeholder, not a distributor's tariff: compared with real
            # bills (taxes, bandeira, CIP) it would always "win". It is compared only when named.
            others = [plan for plan in self._tariffs.all() if plan.id not in (own.id, DEFAULT_ID)]
            plans = [own] + others[:MAX_TARIFFS - 1]
        if len(plans) < 2:
            raise InvalidInput("não há outra tarifa para comparar: cadastre uma em /api/v1/tarifas", campo="tarifas")
        return plans

    def compare(self, meter: Meter, cycles: int, wanted: list[str] | None, now_ms: int) -> dict[str, Any]:
        check_billed(meter)
        plans = self.plans_for(meter, wanted)
        asked = refused(lambda: closed_cycles(local_date(meter.tz, now_ms), cycles, meter.dia_leitura))
        since = max(plan.versoes[0].vigencia for plan in plans)
        kept = [ciclo for ciclo in asked if ciclo.primeiro_dia >= since]
        notes = []
        if len(kept) < len(asked):
            notes.append(f"{len(asked) - len(kept)} ciclo(s) começam antes de {since.strftime('%d/%m/%Y')}, quando "
                         "nem todas as tarifas comparadas vigoravam, e ficaram fora")
        if not kept:
            raise InvalidInput(f"nenhum dos {len(asked)} ciclos pedidos tem todas as tarifas em vigor (a mais recente "
                               f"começa em {since.strftime('%d/%m/%Y')})", campo="ciclos")
        first_ts = self._readings.first_ts(meter.stream)
        first_day = None if first_ts is None else local_date(meter.tz, first_ts)
        # Cycles that ended before the first reading have nothing to compare; the last one stays, so
        # that a meter without history still gets the engine's "histórico curto demais".
        empty = [c for c in kept[:-1] if first_day is None or c.ultimo_dia < first_day]
        if empty:
            kept = kept[len(empty):]
            notes.append(f"{len(empty)} ciclo(s) terminam antes da primeira leitura e ficaram fora")
        first, last = kept[0].primeiro_dia, kept[-1].ultimo_dia
        with self._heavy.turn():
            # At least by the hour: "which hours make the difference" needs the real hours even when
            # no tariff compared has posts.
            step = resolution(plans, first, last)
            profile = self._usage.profile(meter, first, last, Resolution.HOUR if step is Resolution.DAY else step)
            result = refused(lambda: compare_tariffs(plans, kept, profile, self._tariffs.flags(), self._connection(meter)))
        body = result.to_json()
        body["avisos"] = notes + body["avisos"]
        return {"medidor": meter.id, "ligacao": self._connection(meter), "dia_leitura": meter.dia_leitura,
                "ciclos_pedidos": cycles, "historico_curto": result.ciclos_completos == 0, **body}
