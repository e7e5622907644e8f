"""A cycle's invoice from its consumption, a versioned tariff and the bandeira table.

The steps, each a group of lines (every line rounded to the centavo, half up):
1. energia: per version in force, its share of the cycle's kWh (pro rata by days) at its price —
   one price, tiers (bounds scaled by the same share, so a split cycle does not get its first
   tier twice) or posts (kWh of each post under that version's hours); TUSD and TE apart when
   the price has them.
2. disponibilidade: when the cycle measured less than the connection's minimum (30/50/100 kWh),
   the missing kWh at the base price (the single price, the first tier, or fora de ponta).
3. bandeira: the billed kWh (measured, or the minimum when higher) shared by the days of each
   calendar month in the cycle, at that month's flag (ANEEL applies flags pro rata by days too).
4. taxa_fixa: the version's fixed monthly charge, pro rata by days when versions change.
5. tributo: ICMS, PIS/PASEP, COFINS "por dentro" over steps 1–4 (see charges.py), with the rates of
   the version in force on the cycle's last day; then cip, by the same version, untaxed.
4b. compensacao (net metering, compensation.py): injected energy and credits credited back at the
   base price, and the TUSD Fio B they still pay; the bandeira then applies to the energy left
   after compensation (never below the minimum).
"""
from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from shared.money import format_brl, to_cents
from servidor.billing.charges import CONNECTION_LABELS, MINIMUM_KWH, check_connection
from servidor.billing.compensation import Compensacao, compensation_lines
from servidor.billing.cycles import MONTH_NAMES, Ciclo
from servidor.billing.errors import BillingError
from servidor.billing.fields import HUNDRED, KWH_QUANTUM, ZERO, day_text, kwh_text, plain, price_text
from servidor.billing.invoice import TAXED_GROUPS, FaturaCiclo, LinhaFatura
from servidor.billing.plans import PlanoTarifario, Segment, check_plan
from servidor.billing.prices import FORA_PONTA, POST_LABELS, SLOTS_PER_DAY, Faixas, Postos, Preco, PrecoUnico
from servidor.billing.tariff_flags import FLAG_LABELS, TabelaBandeiras
from servidor.billing.usage import PerfilConsumo, UsoCiclo, cycle_usage, prorate, split_exact

# Below this share of the cycle's time with readings the invoice says it is an estimate.
ESTIMATE_BELOW_COVERAGE = Decimal("0.99")


def post_kwh(postos: Postos, uso: UsoCiclo) -> dict[str, Decimal]:
    """kWh of each post in a cycle, to 0,001 kWh, adding up exactly to the cycle's rounded kWh."""
    exact = {post: ZERO for post in postos.posts()}
    for kind, row in enumerate(uso.matriz):
        posts = postos.slot_posts[kind]
        for slot in range(SLOTS_PER_DAY):
            if row[slot]:
                exact[posts[slot]] += row[slot]
    # fora de ponta last, so that ponta and intermediário are rounded on their own values.
    order = [p for p in exact if p != FORA_PONTA] + [FORA_PONTA]
    return dict(zip(order, split_exact([exact[p] for p in order])))


def _suffix(segment: Segment, total_days: int, split: bool) -> str:
    if not split:
        return ""
    return f" — tarifa vigente desde {day_text(segment.versao.vigencia)} ({segment.dias}/{total_days} dias)"


def _price_lines(grupo: str, qualifier: str, kwh: Decimal, preco: Preco, note: str, *, posto: str | None,
                 vigencia: date | None, suffix: str) -> list[LinhaFatura]:
    """One line per part of the price ("Consumo TUSD ponta", "Consumo TE ponta") or one line."""
    lines = []
    for part, price in preco.parts():
        name = " ".join(word for word in ("Consumo", part, qualifier) if word)
        value = to_cents(kwh * price)
        lines.append(LinhaFatura(grupo, name + suffix, value,
                                 f"{note}{kwh_text(kwh)} × {price_text(price)} = {format_brl(value)}",
                                 kwh, "kWh", price, posto, vigencia))
    return lines


def _share_note(whole: Decimal, segment: Segment, total_days: int, split: bool) -> str:
    return f"{kwh_text(whole)} × {segment.dias}/{total_days} dias = " if split else ""


def _energy_lines(uso: UsoCiclo, segments: list[Segment], kwh: Decimal) -> list[LinhaFatura]:
    days = [segment.dias for segment in segments]
    total_days = uso.ciclo.dias
    split = len(segments) > 1
    shares = prorate(kwh, days)
    lines: list[LinhaFatura] = []
    for index, segment in enumerate(segments):
        energy = segment.versao.energia
        suffix = _suffix(segment, total_days, split)
        vigencia = segment.versao.vigencia
        if isinstance(energy, PrecoUnico):
            lines += _price_lines("energia", "", shares[index], energy.preco,
                                  _share_note(kwh, segment, total_days, split), posto=None,
                                  vigencia=vigencia, suffix=suffix)
        elif isinstance(energy, Faixas):
            lines += _tier_lines(energy, shares[index], segment, total_days, split, suffix)
        else:
            for post, whole in post_kwh(energy, uso).items():
                part = prorate(whole, days)[index]
                price = energy.price_of(post)
                assert price is not None  # post_kwh lists priced posts only
                lines += _price_lines("energia", POST_LABELS[post], part, price,
                                      _share_note(whole, segment, total_days, split), posto=post,
                                      vigencia=vigencia, suffix=suffix)
    return lines


def _tier_lines(energy: Faixas, kwh: Decimal, segment: Segment, total_days: int, split: bool,
                suffix: str) -> list[LinhaFatura]:
    lines: list[LinhaFatura] = []
    lower = ZERO
    for number, tier in enumerate(energy.faixas, 1):
        upper = None
        if tier.ate_kwh is not None:
            upper = (tier.ate_kwh * segment.dias / total_days).quantize(KWH_QUANTUM, ROUND_HALF_UP) if split else tier.ate_kwh
        amount = (kwh if upper is None else min(kwh, upper)) - lower
        if upper is None:
            span = f"acima de {plain(lower)} kWh" if lower > 0 else "todo o consumo"
        else:
            span = f"até {plain(upper)} kWh" if lower == 0 else f"de {plain(lower)} a {plain(upper)} kWh"
        lines += _price_lines("energia", f"faixa {number} ({span})", amount, tier.preco, "",
                              posto=None, vigencia=segment.versao.vigencia, suffix=suffix)
        # Only tiers the cycle reached are billed; an empty cycle still shows the first at zero.
        if upper is None or kwh <= upper:
            break
        lower = upper
    return lines


def _minimum_lines(segments: list[Segment], kwh: Decimal, ligacao: str | None,
                   total_days: int) -> list[LinhaFatura]:
    if ligacao is None or kwh >= MINIMUM_KWH[ligacao]:
        return []
    missing = MINIMUM_KWH[ligacao] - kwh
    split = len(segments) > 1
    lines = []
    for segment, part in zip(segments, prorate(missing, [s.dias for s in segments])):
        price = segment.versao.energia.base.total
        value = to_cents(part * price)
        lines.append(LinhaFatura(
            "disponibilidade",
            f"Custo de disponibilidade (ligação {CONNECTION_LABELS[ligacao]}: mínimo de "
            f"{plain(MINIMUM_KWH[ligacao])} kWh; medidos {kwh_text(kwh)})" + _suffix(segment, total_days, split),
            value, f"{_share_note(missing, segment, total_days, split)}{kwh_text(part)} × {price_text(price)} "
                   f"= {format_brl(value)}",
            part, "kWh", price, None, segment.versao.vigencia))
    return lines


def _month_days(ciclo: Ciclo) -> list[tuple[int, int, int]]:
    found: dict[tuple[int, int], int] = {}
    for day in ciclo.days():
        found[(day.year, day.month)] = found.get((day.year, day.month), 0) + 1
    return [(year, month, days) for (year, month), days in found.items()]


def _flag_lines(ciclo: Ciclo, billed: Decimal, bandeiras: TabelaBandeiras,
                notes: list[str]) -> tuple[list[LinhaFatura], list[tuple[str, str | None]]]:
    months = _month_days(ciclo)
    parts = prorate(billed, [days for _, _, days in months])
    lines, flags = [], []
    for (year, month, days), part in zip(months, parts):
        key = f"{year:04d}-{month:02d}"
        found = bandeiras.flag_of(year, month)
        flags.append((key, None if found is None else found[0]))
        if found is None:
            notes.append(f"bandeira de {MONTH_NAMES[month - 1]}/{year} não cadastrada: considerada verde")
            continue
        flag, per_100 = found
        if per_100 == 0:
            continue
        price = per_100 / HUNDRED
        value = to_cents(part * price)
        note = f"{kwh_text(billed)} × {days}/{ciclo.dias} dias = " if len(months) > 1 else ""
        lines.append(LinhaFatura(
            "bandeira", f"Adicional bandeira {FLAG_LABELS[flag]} ({MONTH_NAMES[month - 1]}/{year})", value,
            f"{note}{kwh_text(part)} × {price_text(per_100)}/100 kWh = {format_brl(value)}",
            part, "kWh", price))
    return lines, flags


def _fixed_lines(segments: list[Segment], total_days: int) -> list[LinhaFatura]:
    lines = []
    split = len(segments) > 1
    for segment in segments:
        charge = segment.versao.taxa_fixa_mensal
        if charge == 0:
            continue
        value = to_cents(charge * segment.dias / total_days)
        how = f"{price_text(charge)} × {segment.dias}/{total_days} dias" if split else f"{price_text(charge)} por ciclo"
        lines.append(LinhaFatura("taxa_fixa", "Taxa fixa mensal" + _suffix(segment, total_days, split), value,
                                 f"{how} = {format_brl(value)}", None, "mês", charge, None,
                                 segment.versao.vigencia))
    return lines


def compute_invoice(plano: PlanoTarifario, uso: UsoCiclo, bandeiras: TabelaBandeiras,
                    ligacao: str | None = None, compensacao: Compensacao | None = None) -> FaturaCiclo:
    """The invoice of one cycle's consumption (`uso`, summed with this tariff's holidays), with
    the cycle's net-metering compensation when the meter injects energy."""
    plano = check_plan(plano)
    ligacao = check_connection(ligacao)
    if uso.calendario != plano.calendar:
        # Posts depend on which days are holidays: usage summed with another calendar would
        # put a distributor's holiday's evening in ponta.
        raise BillingError(f"consumo agrupado com outro calendário de feriados que o da tarifa {plano.id}",
                           "feriados_extras")
    ciclo = uso.ciclo
    segments = plano.segments(ciclo)
    kwh = uso.kwh.quantize(KWH_QUANTUM, ROUND_HALF_UP)
    notes: list[str] = []
    lines = _energy_lines(uso, segments, kwh)
    lines += _minimum_lines(segments, kwh, ligacao, ciclo.dias)
    minimum = MINIMUM_KWH[ligacao] if ligacao else ZERO
    billed = max(kwh, minimum)
    closing = segments[-1].versao
    credited = []
    if compensacao is not None:
        credited = compensation_lines(compensacao, closing.energia.base.total, closing.fio_b, ciclo.ultimo_dia.year)
        billed = max(kwh - compensacao.compensado_kwh, minimum)
    flag_lines, flags = _flag_lines(ciclo, billed, bandeiras, notes)
    lines += flag_lines
    lines += _fixed_lines(segments, ciclo.dias)
    lines += credited
    subtotal = sum((line.valor for line in lines if line.grupo in TAXED_GROUPS), ZERO)
    for tax in closing.tributos.taxes(subtotal):
        lines.append(LinhaFatura("tributo", f"{tax.nome} ({plain(tax.pct)} %)", tax.valor,
                                 f"{plain(tax.pct)} % × {format_brl(tax.base)} = {format_brl(tax.valor)}",
                                 tax.base, "R$", tax.pct))
    if closing.cip is not None:
        value, how = closing.cip.charge(kwh)
        lines.append(LinhaFatura("cip", "Contribuição de iluminação pública (CIP/COSIP)", value,
                                 f"{how}: {format_brl(value)}"))
    if uso.cobertura < ESTIMATE_BELOW_COVERAGE:
        notes.append(f"leituras cobrem {plain((uso.cobertura * 100).quantize(Decimal('0.1')))} % do ciclo "
                     f"({uso.dias_com_dados} de {ciclo.dias} dias com dados): valores estimados a menor")
    return FaturaCiclo(
        plano.id, plano.nome, closing.modalidade, ciclo, kwh, billed, tuple(lines), subtotal,
        sum((line.valor for line in lines), ZERO), uso.cobertura, uso.dias_com_dados, tuple(flags),
        uso.feriados, tuple(notes), compensacao)


def invoice_for(plano: PlanoTarifario, ciclo: Ciclo, perfil: PerfilConsumo, bandeiras: TabelaBandeiras,
                ligacao: str | None = None, compensacao: Compensacao | None = None) -> FaturaCiclo:
    """The invoice of `ciclo` for a consumption profile (the usual entry point)."""
    plano = check_plan(plano)
    return compute_invoice(plano, cycle_usage(perfil, ciclo, plano.calendar), bandeiras, ligacao, compensacao)
