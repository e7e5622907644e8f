"""The energy price of a tariff version: one price, tiers, or time-of-use posts (Tarifa Branca).

A price is either one R$/kWh or its two regulated parts, TUSD (the distribution network) and TE
(the energy itself), which bills print as separate lines. Time-of-use posts are given as windows
of local wall-clock time per weekday; whatever no window covers is fora de ponta, and so is every
hour of a holiday. Windows start and end on quarter hours so that each 15-minute reading bucket
falls in exactly one post.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Union

from servidor.billing.errors import InvalidTariff
from servidor.billing.fields import amount, check_bands
from servidor.billing.holiday_calendar import DAY_KINDS, WEEKDAY_NAMES

# Residential prices in Brazil are around R$ 0,60–1,20 per kWh with taxes; above R$ 100/kWh is a
# price typed in centavos, not a tariff.
MAX_PRICE_KWH = Decimal(100)
# A tier bound above a million kWh a cycle is beyond any household, school or small business.
MAX_TIER_KWH = Decimal(1_000_000)
# Brazilian tiered schemes (tarifa social) have four tiers; ten bounds a bill's length.
MAX_TIERS = 10
# Tarifa Branca has two windows per working day; a distributor with a split ponta has four.
MAX_WINDOWS = 28

SLOT_MINUTES = 15
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES  # 96 quarter hours
SLOTS_PER_HOUR = 60 // SLOT_MINUTES

PONTA = "ponta"
INTERMEDIARIO = "intermediario"
FORA_PONTA = "fora_ponta"
POST_LABELS = {PONTA: "ponta", INTERMEDIARIO: "intermediário", FORA_PONTA: "fora de ponta"}
WORKING_DAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True, slots=True)
class Preco:
    """R$/kWh as one price (`kwh`) or as TUSD + TE, which the bill then shows apart."""

    kwh: Decimal | None = None
    tusd: Decimal | None = None
    te: Decimal | None = None

    def __post_init__(self) -> None:
        split = self.tusd is not None or self.te is not None
        if split == (self.kwh is not None) or (split and (self.tusd is None or self.te is None)):
            raise InvalidTariff("informe o preço por kWh OU as duas parcelas, TUSD e TE", "preco")
        for name in ("kwh", "tusd", "te"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, amount(name, value, MAX_PRICE_KWH, InvalidTariff))

    @property
    def total(self) -> Decimal:
        return self.kwh if self.kwh is not None else self.tusd + self.te  # type: ignore[operator]

    def parts(self) -> tuple[tuple[str, Decimal], ...]:
        """(label, R$/kWh) in the order a bill prints them: TUSD before TE."""
        if self.kwh is not None:
            return (("", self.kwh),)
        return (("TUSD", self.tusd), ("TE", self.te))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class PrecoUnico:
    """The same price for every kWh of the cycle (the convencional modality)."""

    preco: Preco

    @property
    def base(self) -> Preco:
        return self.preco


@dataclass(frozen=True, slots=True)
class Faixa:
    """A tier: the cycle's kWh above the previous bound and up to `ate_kwh` (None: the rest)."""

    ate_kwh: Decimal | None
    preco: Preco

    def __post_init__(self) -> None:
        if self.ate_kwh is not None:
            object.__setattr__(self, "ate_kwh",
                               amount("ate_kwh", self.ate_kwh, MAX_TIER_KWH, InvalidTariff, positive=True))


@dataclass(frozen=True, slots=True)
class Faixas:
    """Tiered energy price: bounds strictly increasing, the last tier open."""

    faixas: tuple[Faixa, ...]

    def __post_init__(self) -> None:
        tiers = tuple(self.faixas)
        object.__setattr__(self, "faixas", tiers)
        check_bands([tier.ate_kwh for tier in tiers], MAX_TIERS, InvalidTariff)

    @property
    def base(self) -> Preco:
        return self.faixas[0].preco


def _minutes(name: str, text: str) -> int:
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
    except (ValueError, AttributeError):
        raise InvalidTariff(f"{name} deve ser um horário HH:MM (recebido {text!r})", name) from None
    total = hours * 60 + minutes
    if not (0 <= minutes < 60 and 0 <= total <= 24 * 60):
        raise InvalidTariff(f"{name} fora do dia: {text!r} (de 00:00 a 24:00)", name)
    if total % SLOT_MINUTES:
        raise InvalidTariff(f"{name} deve cair num quarto de hora (:00, :15, :30, :45): {text!r}", name)
    return total


@dataclass(frozen=True, slots=True)
class Janela:
    """Local hours [inicio, fim) of the weekdays `dias` (0 = Monday) that belong to `posto`."""

    posto: str
    inicio: str
    fim: str
    dias: tuple[int, ...] = WORKING_DAYS

    def __post_init__(self) -> None:
        if self.posto not in (PONTA, INTERMEDIARIO):
            raise InvalidTariff(
                f"posto de uma janela deve ser '{PONTA}' ou '{INTERMEDIARIO}' (o resto do dia é fora de ponta)",
                "posto",
            )
        if self.end_minute <= self.start_minute:
            raise InvalidTariff(
                f"janela {self.inicio}–{self.fim} termina antes de começar; uma janela que passa da "
                "meia-noite deve ser dividida em duas", "fim")
        # Checked before the set: a JSON object or list among the days is unhashable.
        if not self.dias or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in self.dias):
            raise InvalidTariff("dias de uma janela: inteiros de 0 (segunda) a 6 (domingo)", "dias")
        object.__setattr__(self, "dias", tuple(sorted(set(self.dias))))

    @property
    def start_minute(self) -> int:
        return _minutes("inicio", self.inicio)

    @property
    def end_minute(self) -> int:
        return _minutes("fim", self.fim)

    def slots(self) -> range:
        return range(self.start_minute // SLOT_MINUTES, self.end_minute // SLOT_MINUTES)


@dataclass(frozen=True, slots=True)
class Postos:
    """Time-of-use prices: ponta and intermediário in their windows, fora de ponta elsewhere."""

    fora_ponta: Preco
    janelas: tuple[Janela, ...]
    ponta: Preco | None = None
    intermediario: Preco | None = None
    # kind of day (0–6 weekday, 7 holiday) → the post of each of its 96 quarter hours
    slot_posts: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        windows = tuple(self.janelas)
        object.__setattr__(self, "janelas", windows)
        if len(windows) > MAX_WINDOWS:
            raise InvalidTariff(f"no máximo {MAX_WINDOWS} janelas de postos", "janelas")
        for index, window in enumerate(windows):
            if self.price_of(window.posto) is None:
                raise InvalidTariff(f"a janela {index + 1} usa o posto {POST_LABELS[window.posto]}, que não tem preço",
                                    f"janelas[{index}].posto")
        table = [[FORA_PONTA] * SLOTS_PER_DAY for _ in range(DAY_KINDS)]
        owner: dict[tuple[int, int], int] = {}
        for index, window in enumerate(windows):
            for weekday in window.dias:
                for slot in window.slots():
                    other = owner.setdefault((weekday, slot), index)
                    if other != index:
                        raise InvalidTariff(_overlap_message(windows[other], window, weekday, slot),
                                            f"janelas[{index}]")
                    table[weekday][slot] = window.posto
        # Weekends without windows and holidays (row HOLIDAY, never written) stay fora de ponta.
        object.__setattr__(self, "slot_posts", tuple(tuple(row) for row in table))

    def price_of(self, posto: str) -> Preco | None:
        return {PONTA: self.ponta, INTERMEDIARIO: self.intermediario, FORA_PONTA: self.fora_ponta}[posto]

    def posts(self) -> tuple[str, ...]:
        """The posts this tariff prices, in a bill's order."""
        return tuple(p for p in (PONTA, INTERMEDIARIO, FORA_PONTA) if self.price_of(p) is not None)

    @property
    def base(self) -> Preco:
        return self.fora_ponta


def _overlap_message(first: Janela, second: Janela, weekday: int, slot: int) -> str:
    minute = slot * SLOT_MINUTES
    return (
        f"postos sobrepostos: {POST_LABELS[first.posto]} ({first.inicio}–{first.fim}) e "
        f"{POST_LABELS[second.posto]} ({second.inicio}–{second.fim}) às {minute // 60:02d}:{minute % 60:02d} "
        f"de {WEEKDAY_NAMES[weekday]}"
    )


Energia = Union[PrecoUnico, Faixas, Postos]
