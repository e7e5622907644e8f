"""Which tariff is cheaper for this consumption? The same quarter hours priced under each tariff.

Every tariff bills every cycle in full (bandeira, minimum, taxes, CIP), so the totals are the
bills the user would have paid. The difference is then laid on the hours of the day: for each
tariff and cycle, each post's (or the single price's) effective R$/kWh — its energy lines over
its kWh, taxes included in proportion — prices the kWh of each hour of the day, working days and
other days apart. What the hours do not explain (minimum, fixed charge, rounding) is `outros`.

Only cycles with readings for at least MIN_COVERAGE of their time count towards the verdict; the
others are listed, marked incomplete. With no complete cycle the answer says history is too
short, and with fewer than a year of cycles it warns that the seasons may change the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Sequence

from shared.money import format_brl, to_cents
from servidor.billing.bill import compute_invoice, post_kwh
from servidor.billing.cycles import MAX_CYCLES, Ciclo
from servidor.billing.errors import BillingError
from servidor.billing.fields import HUNDRED, ZERO, plain
from servidor.billing.holiday_calendar import DAY_KINDS, HolidayCalendar
from servidor.billing.invoice import FaturaCiclo
from servidor.billing.plans import PlanoTarifario, check_plan
from servidor.billing.prices import SLOTS_PER_HOUR, Postos
from servidor.billing.tariff_flags import TabelaBandeiras
from servidor.billing.usage import PerfilConsumo, UsoCiclo, cycle_usage

# A cycle missing more than 5 % of its readings (a day and a half) is not compared: the missing
# hours could be the very evening hours that decide between the tariffs.
MIN_COVERAGE = Decimal("0.95")
# Consumption changes with the seasons (air conditioning in summer, electric showers in winter);
# fewer cycles than a year may point the wrong way.
SEASONAL_CYCLES = 12
# A difference smaller than this share of the bill (or than one real per cycle) is a tie: it is
# within what the rounding, a late reading or one unusual week moves.
TIE_SHARE = Decimal("0.01")
MAX_TARIFFS = 8
_CENT_DIGITS = Decimal("0.01")
SATURDAY = 5


@dataclass(frozen=True, slots=True)
class CicloComparado:
    """One cycle's total under each tariff (same order as Comparacao.tarifas)."""

    ciclo: Ciclo
    kwh: Decimal
    cobertura: Decimal
    completo: bool
    totais: tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class HoraComparada:
    """An hour of the day over the complete cycles: its kWh, the post each tariff puts it in on
    working days (None for a single price), and each tariff's cost and difference to the first."""

    hora: int
    kwh_dias_uteis: Decimal
    kwh_outros_dias: Decimal
    postos: tuple[str | None, ...]
    custos: tuple[Decimal, ...]
    diferencas: tuple[Decimal, ...]


@dataclass(frozen=True, slots=True)
class Comparacao:
    tarifas: tuple[tuple[str, str, str], ...]  # (id, nome, modalidade); the first is the reference
    ciclos: tuple[CicloComparado, ...]
    ciclos_completos: int
    totais: tuple[Decimal, ...]
    diferencas: tuple[Decimal, ...]
    diferencas_outros: tuple[Decimal, ...]
    horas: tuple[HoraComparada, ...]
    mais_barata: str | None
    conclusiva: bool
    conclusao: str
    avisos: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        ids = [tariff_id for tariff_id, _, _ in self.tarifas]
        return {
            "tarifas": [{"id": i, "nome": n, "modalidade": m} for i, n, m in self.tarifas],
            "referencia": ids[0],
            "ciclos": [{
                "ciclo": row.ciclo.to_json(), "kwh": float(row.kwh), "cobertura": float(row.cobertura),
                "completo": row.completo, "totais": dict(zip(ids, map(float, row.totais))),
            } for row in self.ciclos],
            "ciclos_completos": self.ciclos_completos,
            "totais": dict(zip(ids, map(float, self.totais))),
            "diferencas": dict(zip(ids, map(float, self.diferencas))),
            "diferencas_outros": dict(zip(ids, map(float, self.diferencas_outros))),
            "horas": [{
                "hora": hour.hora, "kwh_dias_uteis": float(hour.kwh_dias_uteis),
                "kwh_outros_dias": float(hour.kwh_outros_dias), "postos": dict(zip(ids, hour.postos)),
                "custos": dict(zip(ids, map(float, hour.custos))),
                "diferencas": dict(zip(ids, map(float, hour.diferencas))),
            } for hour in self.horas],
            "mais_barata": self.mais_barata,
            "conclusiva": self.conclusiva,
            "conclusao": self.conclusao,
            "avisos": list(self.avisos),
        }


def _hour_prices(plano: PlanoTarifario, invoice: FaturaCiclo, uso: UsoCiclo) -> list[list[Decimal]]:
    """Effective R$/kWh, taxes in, of each (kind of day, quarter hour) under one tariff."""
    energy = plano.version_on(uso.ciclo.ultimo_dia).energia
    lines = invoice.lines_of("energia")
    factor = Decimal(1)
    if invoice.subtotal > 0:
        factor = (invoice.subtotal + invoice.sum_of("tributo")) / invoice.subtotal
    if isinstance(energy, Postos):
        kwh = post_kwh(energy, uso)
        price = {post: (sum((line.valor for line in lines if line.posto == post), ZERO) / kwh[post] * factor
                        if kwh[post] else ZERO) for post in kwh}
        return [[price[post] for post in energy.slot_posts[kind]] for kind in range(DAY_KINDS)]
    flat = sum((line.valor for line in lines), ZERO) / invoice.kwh_medido * factor if invoice.kwh_medido else ZERO
    return [[flat] * len(uso.matriz[0]) for _ in range(DAY_KINDS)]


def _post_names(plano: PlanoTarifario, ciclo: Ciclo) -> list[str | None]:
    energy = plano.version_on(ciclo.ultimo_dia).energia
    if not isinstance(energy, Postos):
        return [None] * 24
    # The post of each hour on a Wednesday: the hour's first quarter decides its name.
    return [energy.slot_posts[2][hour * SLOTS_PER_HOUR] for hour in range(24)]


def compare_tariffs(planos: Sequence[PlanoTarifario], ciclos: Sequence[Ciclo], perfil: PerfilConsumo,
                    bandeiras: TabelaBandeiras, ligacao: str | None = None) -> Comparacao:
    """Price `perfil` under each tariff for each cycle; the first tariff is the reference."""
    plans = [check_plan(plano) for plano in planos]
    if not 2 <= len(plans) <= MAX_TARIFFS:
        raise BillingError(f"compare de 2 a {MAX_TARIFFS} tarifas", "tarifas")
    if len({plan.id for plan in plans}) != len(plans):
        raise BillingError("tarifas repetidas na comparação", "tarifas")
    if not 1 <= len(ciclos) <= MAX_CYCLES:
        raise BillingError(f"compare de 1 a {MAX_CYCLES} ciclos", "ciclos")
    count = len(plans)
    rows: list[CicloComparado] = []
    totals = [ZERO] * count
    hour_kwh = [[ZERO, ZERO] for _ in range(24)]
    hour_cost = [[ZERO] * count for _ in range(24)]
    complete = 0
    for ciclo in ciclos:
        usages: dict[HolidayCalendar, UsoCiclo] = {}
        invoices = []
        for plan in plans:
            calendar = plan.calendar
            if calendar not in usages:
                usages[calendar] = cycle_usage(perfil, ciclo, calendar)
            invoices.append(compute_invoice(plan, usages[calendar], bandeiras, ligacao))
        first_usage = next(iter(usages.values()))
        is_complete = first_usage.cobertura >= MIN_COVERAGE
        rows.append(CicloComparado(ciclo, invoices[0].kwh_medido, first_usage.cobertura, is_complete,
                                   tuple(invoice.total for invoice in invoices)))
        if not is_complete:
            continue
        complete += 1
        for index, (plan, invoice) in enumerate(zip(plans, invoices)):
            totals[index] += invoice.total
            uso = usages[plan.calendar]
            prices = _hour_prices(plan, invoice, uso)
            for kind in range(DAY_KINDS):
                row, price_row = uso.matriz[kind], prices[kind]
                for slot, kwh in enumerate(row):
                    if kwh:
                        hour_cost[slot // SLOTS_PER_HOUR][index] += kwh * price_row[slot]
        reference_usage = usages[plans[0].calendar]
        for kind in range(DAY_KINDS):
            working = 0 if kind < SATURDAY else 1  # Saturday, Sunday and HOLIDAY (7) are "other days"
            for slot, kwh in enumerate(reference_usage.matriz[kind]):
                hour_kwh[slot // SLOTS_PER_HOUR][working] += kwh
    return _verdict(plans, ciclos, rows, complete, totals, hour_kwh, hour_cost)


def _verdict(plans: list[PlanoTarifario], ciclos: Sequence[Ciclo], rows: list[CicloComparado], complete: int,
             totals: list[Decimal], hour_kwh: list[list[Decimal]], hour_cost: list[list[Decimal]]) -> Comparacao:
    count = len(plans)
    differences = tuple(total - totals[0] for total in totals)
    names = [_post_names(plan, ciclos[-1]) for plan in plans]
    hours = []
    explained = [ZERO] * count
    for hour in range(24):
        costs = tuple(to_cents(cost) for cost in hour_cost[hour])
        deltas = tuple(cost - costs[0] for cost in costs)
        explained = [e + d for e, d in zip(explained, deltas)]
        hours.append(HoraComparada(
            hour, hour_kwh[hour][0].quantize(Decimal("0.001"), ROUND_HALF_UP),
            hour_kwh[hour][1].quantize(Decimal("0.001"), ROUND_HALF_UP),
            tuple(name[hour] for name in names), costs, deltas))
    others = tuple(d - e for d, e in zip(differences, explained))
    notes = []
    if complete < len(ciclos):
        notes.append(f"{len(ciclos) - complete} de {len(ciclos)} ciclos têm menos de "
                     f"{plain(MIN_COVERAGE * HUNDRED)} % de leituras e ficaram fora da comparação")
    if 0 < complete < SEASONAL_CYCLES:
        notes.append(f"baseado em {complete} ciclo(s): o consumo muda com as estações, e um ano inteiro pode dar "
                     "outro resultado")
    cheapest, conclusive, text = _conclusion(plans, complete, totals, differences)
    return Comparacao(
        tuple((plan.id, plan.nome, plan.modalidade) for plan in plans), tuple(rows), complete, tuple(totals),
        differences, others, tuple(hours), cheapest, conclusive, text, tuple(notes))


def _conclusion(plans: list[PlanoTarifario], complete: int, totals: list[Decimal],
                differences: tuple[Decimal, ...]) -> tuple[str | None, bool, str]:
    if complete == 0:
        return None, False, ("histórico curto demais para comparar: nenhum ciclo tem leituras suficientes "
                             f"(ao menos {plain(MIN_COVERAGE * HUNDRED)} % do ciclo)")
    best = min(range(len(plans)), key=lambda index: (totals[index], index))
    second = min((i for i in range(len(plans)) if i != best), key=lambda index: (totals[index], index))
    gap = totals[second] - totals[best]
    tie = max(Decimal(complete), (totals[second] * TIE_SHARE).quantize(_CENT_DIGITS))
    if gap < tie:
        return None, True, (f"empate: em {complete} ciclo(s) as tarifas diferem em {format_brl(gap)}, menos que "
                            f"{format_brl(tie)}; nenhuma compensa")
    # Against the reference (the tariff the meter has) when another wins; against the runner-up
    # when the reference itself is the cheapest.
    other = 0 if best != 0 else second
    saving = totals[other] - totals[best]
    return plans[best].id, True, (f"{plans[best].nome} compensa: {format_brl(saving)} a menos que "
                                  f"{plans[other].nome} em {complete} ciclo(s)")
