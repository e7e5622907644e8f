"""Net-metering credits of a meter that injects energy: each cycle's compensation, carried from
its first cycle with readings, so that a re-issued invoice (late data, a tariff edited) carries
its credits forward too (servidor/billing/compensation.py has the rules)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Callable

from servidor.billing import MINIMUM_KWH, Ciclo, cycle_for_day
from servidor.billing.calendar import local_date
from servidor.billing.compensation import Compensacao, Credito, compensate
from servidor.domain.categories import export_stream
from servidor.domain.meters import Meter
from servidor.store.interface import ReadingsBackend

WH_PER_KWH = Decimal(1000)
# Cycles walked from the first reading: ten years, as invoices list (servidor/domain/invoices.py).
MAX_CYCLES = 120


class Credits:
    def __init__(self, readings: ReadingsBackend, connection: Callable[[Meter], str | None]) -> None:
        self._readings = readings
        self._connection = connection

    def injects(self, meter: Meter) -> bool:
        """A consuming meter that can send energy to the grid: a net counter or two counters."""
        return meter.categoria == "gridNet" or self._readings.count(export_stream(meter)) > 0

    def _kwh(self, stream: str, first: date, last: date, *, exported: bool = False) -> Decimal:
        days = self._readings.day_energy(stream, first, last, exported=exported)
        return Decimal(repr(sum(wh for wh, _ in days.values()))) / WH_PER_KWH

    def _minimum(self, meter: Meter) -> Decimal:
        ligacao = self._connection(meter)
        return Decimal(MINIMUM_KWH[ligacao]) if ligacao else Decimal(0)

    def projected(self, meter: Meter, ciclo: Ciclo, consumed: Decimal, factor: Decimal) -> Compensacao | None:
        """The open cycle's compensation if its pace holds: `consumed` (already projected) against
        the injection so far times `factor`, with the credits carried into the cycle."""
        chain = self.chain(meter, ciclo)
        current = chain.get(ciclo.nome)
        if current is None:
            return None
        done = list(chain.values())
        carried = done[-2].creditos if len(done) > 1 else ()
        return compensate(ciclo.nome, consumed, current.injetado_kwh * factor, self._minimum(meter), carried)

    def chain(self, meter: Meter, until: Ciclo) -> dict[str, Compensacao]:
        """Each cycle's compensation from the first with readings through `until`, by name."""
        first_ts = self._readings.first_ts(meter.stream)
        if first_ts is None:
            return {}
        minimum = self._minimum(meter)
        ciclo = cycle_for_day(local_date(meter.tz, first_ts), meter.dia_leitura)
        credits: tuple[Credito, ...] = ()
        out: dict[str, Compensacao] = {}
        while ciclo.primeiro_dia <= until.primeiro_dia and len(out) < MAX_CYCLES:
            first, last = ciclo.primeiro_dia, ciclo.ultimo_dia
            consumed = self._kwh(meter.stream, first, last)
            injected = (self._kwh(meter.stream, first, last, exported=True)
                        + self._kwh(export_stream(meter), first, last))
            done = compensate(ciclo.nome, consumed, injected, minimum, credits)
            out[ciclo.nome] = done
            credits = done.creditos
            ciclo = cycle_for_day(last + timedelta(days=1), meter.dia_leitura)
        return out
