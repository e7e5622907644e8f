"""A tariff as it lives over time: versions, each in force from its vigência until the next.

A cycle that spans a change is billed pro rata by days, as ANEEL has distributors do when a
tariff changes between two readings: each version prices the share of the cycle's energy equal
to the share of the cycle's days it was in force (REN 1000/2021; the bill shows one set of lines
per version). Taxes and CIP are those of the version in force on the cycle's last day: the
reading that closes the cycle is when the supply is billed and taxed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from servidor.billing.charges import Cip, Tributos
from servidor.billing.compensation import FioB
from servidor.billing.cycles import Ciclo
from servidor.billing.errors import BillingError, InvalidTariff, NoTariffInForce
from servidor.billing.fields import ZERO, amount, day_text
from servidor.billing.holiday_calendar import HolidayCalendar
from servidor.billing.prices import Energia, Faixas, Postos, PrecoUnico

# A small business's standing charge is a few hundred reais; a million is a typo.
MAX_FIXED_CHARGE = Decimal(1_000_000)
# Tariffs change once or twice a year; fifty versions is decades of history.
MAX_VERSIONS = 50
# A distributor honours a handful of local holidays a year; a decade of them fits.
MAX_EXTRA_HOLIDAYS = 200
MAX_NAME = 120
MAX_SOURCE = 200
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

CONVENCIONAL = "convencional"
BRANCA = "branca"


@dataclass(frozen=True, slots=True)
class VersaoTarifa:
    """A tariff's components from `vigencia` on. `fonte` says where the prices come from."""

    vigencia: date
    energia: Energia
    taxa_fixa_mensal: Decimal = ZERO
    tributos: Tributos = field(default_factory=Tributos)
    cip: Cip | None = None
    fonte: str = ""
    # The TUSD Fio B share compensated energy still pays (net metering); None: nothing.
    fio_b: FioB | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.vigencia, date):
            raise InvalidTariff("vigencia deve ser uma data", "vigencia")
        if not isinstance(self.energia, (PrecoUnico, Faixas, Postos)):
            raise InvalidTariff("energia deve ser preço único, faixas ou postos horários", "energia")
        object.__setattr__(self, "taxa_fixa_mensal",
                           amount("taxa_fixa_mensal", self.taxa_fixa_mensal, MAX_FIXED_CHARGE, InvalidTariff))
        if self.fio_b is not None and not isinstance(self.fio_b, FioB):
            raise InvalidTariff("fio_b inválido", "fio_b")
        if not isinstance(self.fonte, str) or len(self.fonte) > MAX_SOURCE:
            raise InvalidTariff(f"fonte deve ser um texto de até {MAX_SOURCE} caracteres", "fonte")

    @property
    def modalidade(self) -> str:
        return BRANCA if isinstance(self.energia, Postos) else CONVENCIONAL


class Segment(NamedTuple):
    """The days of a cycle one version prices."""

    versao: VersaoTarifa
    primeiro_dia: date
    ultimo_dia: date
    dias: int


@dataclass(frozen=True, slots=True)
class PlanoTarifario:
    """A tariff (id, name), its versions in vigência order, and its holiday calendar."""

    id: str
    nome: str
    versoes: tuple[VersaoTarifa, ...]
    feriados_extras: frozenset[date] = frozenset()
    feriados_aneel: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _SLUG_RE.fullmatch(self.id):
            raise InvalidTariff("id da tarifa deve ter de 1 a 64 caracteres: letras minúsculas, dígitos, '_' ou '-'", "id")
        if not isinstance(self.nome, str) or not self.nome.strip() or len(self.nome) > MAX_NAME:
            raise InvalidTariff(f"nome da tarifa é obrigatório (até {MAX_NAME} caracteres)", "nome")
        object.__setattr__(self, "nome", self.nome.strip())
        versions = tuple(self.versoes)
        object.__setattr__(self, "versoes", versions)
        if not versions:
            raise InvalidTariff("a tarifa precisa de ao menos uma versão", "versoes")
        if len(versions) > MAX_VERSIONS:
            raise InvalidTariff(f"no máximo {MAX_VERSIONS} versões", "versoes")
        for index, (before, after) in enumerate(zip(versions, versions[1:]), 1):
            if after.vigencia <= before.vigencia:
                raise InvalidTariff(
                    f"a versão {index + 1} (vigência {day_text(after.vigencia)}) não é posterior à versão "
                    f"{index} (vigência {day_text(before.vigencia)}); as versões vão em ordem de vigência",
                    f"versoes[{index}].vigencia",
                )
        extras = frozenset(self.feriados_extras)
        if len(extras) > MAX_EXTRA_HOLIDAYS or not all(isinstance(d, date) for d in extras):
            raise InvalidTariff(f"feriados_extras: até {MAX_EXTRA_HOLIDAYS} datas", "feriados_extras")
        object.__setattr__(self, "feriados_extras", extras)

    @property
    def calendar(self) -> HolidayCalendar:
        return HolidayCalendar(self.feriados_extras, self.feriados_aneel)

    @property
    def modalidade(self) -> str:
        return self.versoes[-1].modalidade

    def with_version(self, versao: VersaoTarifa) -> PlanoTarifario:
        """This tariff with one more version; it must start after the last one."""
        return PlanoTarifario(self.id, self.nome, self.versoes + (versao,), self.feriados_extras, self.feriados_aneel)

    def version_on(self, day: date) -> VersaoTarifa:
        """The version in force on a local day."""
        found = None
        for version in self.versoes:
            if version.vigencia > day:
                break
            found = version
        if found is None:
            raise NoTariffInForce(
                f"a tarifa {self.id} não tem versão em vigor em {day_text(day)} "
                f"(a primeira vigora a partir de {day_text(self.versoes[0].vigencia)})", "vigencia")
        return found

    def segments(self, ciclo: Ciclo) -> list[Segment]:
        """The versions in force during a cycle and the days each prices, in order."""
        self.version_on(ciclo.primeiro_dia)  # a cycle starting before the first version is refused
        found: list[Segment] = []
        for index, version in enumerate(self.versoes):
            following = self.versoes[index + 1].vigencia if index + 1 < len(self.versoes) else date.max
            first = max(version.vigencia, ciclo.primeiro_dia)
            last = min(following - timedelta(days=1) if following != date.max else date.max, ciclo.ultimo_dia)
            if first <= last:
                found.append(Segment(version, first, last, (last - first).days + 1))
        return found


def check_plan(plano: object) -> PlanoTarifario:
    if not isinstance(plano, PlanoTarifario):
        raise BillingError("esperava uma tarifa (PlanoTarifario)", "tarifa")
    return plano
