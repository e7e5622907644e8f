"""The meter (medidor): its fields, their validation, and where its readings live.

A meter's readings are stored under a *stream key*. The first incarnation of an id (generation
0) uses the id itself, as every store written before generations did; a meter created again
after its id was deleted gets the next generation and the key `<id>~<generation>`, so it starts
empty whatever the deleted one's agent keeps sending (ids never contain "~").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servidor.billing import BillingError, check_connection, check_reading_day
from servidor.domain.errors import InvalidInput
from servidor.domain.numbers import positive_within, within
from shared.contract import EDITABLE
from shared.models import MAX_POWER_W, METER_ID

# opengrid's sensor categories (seed 003): import, export, production, net, consumption, ...
CATEGORIES = ("gridImport", "gridExport", "pvProd", "gridNet", "gridCons", "gridSub", "gridWater", "gridGas", "heatProd")
STATES = ("ativo", "pausado")
# A meter that sends nothing for this long raises a "silêncio" alert, unless it sets its own
# `silencio_s`: 15 min is 90 readings of a 10-s agent.
DEFAULT_SILENCE_S = 15 * 60
# Below a minute every agent would look silent. The upper bound only keeps the number finite
# (stores written before it had none, and a meter read back must still load).
MIN_SILENCE_S = 60
MAX_SILENCE_S = 100 * 366 * 86_400
MAX_NAME = 120
# Bounds that keep percentages and projections finite and catch typos (a limit in Wh, say).
MIN_LIMIT_KWH = 0.001
MAX_LIMIT_KWH = 1e9
MAX_MULTIPLIER = 1000.0
# Fields a client may echo back from a GET into a PUT; they are ignored.
ECHOED = frozenset({"criado_em", "atualizado_em", "ultima_leitura"})
STREAM_SEPARATOR = "~"
# The longest IANA zone name is 32 characters (America/Argentina/ComodRivadavia).
MAX_ZONE_NAME = 64
# A webhook URL: the service's long tokens fit; browsers' practical limit is about the same.
MAX_WEBHOOK_URL = 2000
# blipserver refused numeric URL arguments longer than 15 digits; a blip id is one of them.
MAX_BLIP_ID = 10**15 - 1
# Blinks per kWh of a pulse meter's LED: 1000 and 600 are common, 10000 exists; more is a typo.
MAX_PULSES_PER_KWH = 100_000.0
# The agent's control port, `HOST:PORTA` (IPv6 in brackets), as the terminal app dials it.
CONTROL_ADDRESS = re.compile(r"^(?:[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):[0-9]{1,5}$")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def zone(name: Any) -> ZoneInfo:
    """The IANA zone `name`; InvalidInput for anything else."""
    if not isinstance(name, str) or len(name) > MAX_ZONE_NAME:
        raise InvalidInput(f"fuso desconhecido: {str(name)[:MAX_ZONE_NAME]!r} (use um nome IANA como America/Sao_Paulo)")
    return _zone(name)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    # ZoneInfo caches zones itself, but checks its key on every call; this is the hot path's.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"fuso desconhecido: {name!r} (use um nome IANA como America/Sao_Paulo)") from None


def valid_webhook(url: Any) -> bool:
    if not isinstance(url, str) or not url or len(url) > MAX_WEBHOOK_URL or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def valid_control(address: Any) -> bool:
    return (isinstance(address, str) and CONTROL_ADDRESS.fullmatch(address) is not None
            and 0 < int(address.rpartition(":")[2]) < 65536)


def stream_key(meter_id: str, generation: int) -> str:
    return meter_id if generation == 0 else f"{meter_id}{STREAM_SEPARATOR}{generation}"


@dataclass(frozen=True, slots=True)
class Meter:
    id: str
    nome: str
    categoria: str = "gridImport"
    fuso: str = "America/Sao_Paulo"
    limite_alerta_kwh: float | None = 500.0
    multiplicador: float = 1.0
    tarifa: str = "padrao"
    estado: str = "ativo"
    silencio_s: int = DEFAULT_SILENCE_S
    # The billing cycle's reading day (1–28; None: calendar months) and the connection type whose
    # minimum billed energy applies (None: no minimum), as on the meter's electricity bill.
    dia_leitura: int | None = None
    ligacao: str | None = None
    webhook_url: str | None = None  # where its alerts are POSTed when they open (servidor/notify)
    # blipserver's clients address a pulse meter by number (/blip/1); given on the first blinks.
    id_blip: int | None = None
    # Readable without a key on the blipserver routes (blink times tell when people are home).
    publico: bool = False
    pulsos_por_kwh: float = 1000.0
    site: str | None = None  # the site (servidor/domain/sites.py) it belongs to, if any
    # The fastest the meter's energy can flow, in W: a counter jump needing more is a reset or a
    # glitch, not energy (servidor/store/readings/flows.py). None: the store's defaults.
    potencia_maxima_w: float | None = None
    controle: str | None = None     # its agent's control port (medidor --porta-controle), HOST:PORTA
    local: str | None = None        # where it is (Tesla Analyzer's <node location>), for people
    criado_em: str = ""
    atualizado_em: str = ""
    geracao: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not METER_ID.fullmatch(self.id):
            raise InvalidInput("id deve ter de 1 a 64 letras, dígitos, '.', '_' ou '-', começando por letra ou dígito")
        if not isinstance(self.nome, str) or not self.nome.strip() or len(self.nome) > MAX_NAME:
            raise InvalidInput(f"nome deve ser um texto de 1 a {MAX_NAME} caracteres")
        if self.categoria not in CATEGORIES:
            raise InvalidInput(f"categoria deve ser uma de: {', '.join(CATEGORIES)}")
        zone(self.fuso)
        if self.limite_alerta_kwh is not None and not within(self.limite_alerta_kwh, MIN_LIMIT_KWH, MAX_LIMIT_KWH):
            raise InvalidInput(f"limite_alerta_kwh deve estar entre {MIN_LIMIT_KWH:g} e {MAX_LIMIT_KWH:g} kWh, ou ser null")
        if not positive_within(self.multiplicador, MAX_MULTIPLIER):
            raise InvalidInput(f"multiplicador deve ser > 0 e ≤ {MAX_MULTIPLIER:g}")
        if not isinstance(self.tarifa, str) or not self.tarifa:
            raise InvalidInput("tarifa deve ser o id de uma tarifa")
        if self.estado not in STATES:
            raise InvalidInput(f"estado deve ser um de: {', '.join(STATES)}")
        if type(self.silencio_s) is not int or not MIN_SILENCE_S <= self.silencio_s <= MAX_SILENCE_S:
            raise InvalidInput(f"silencio_s deve ser um inteiro de segundos de {MIN_SILENCE_S} a {MAX_SILENCE_S}")
        if self.ligacao is not None and not isinstance(self.ligacao, str):
            raise InvalidInput("ligacao deve ser monofasica, bifasica, trifasica ou null", campo="ligacao")
        try:
            check_reading_day(self.dia_leitura)
            check_connection(self.ligacao)
        except BillingError as exc:
            raise InvalidInput(exc.message, campo=exc.campo) from None
        if self.webhook_url is not None and not valid_webhook(self.webhook_url):
            raise InvalidInput(f"webhook_url deve ser uma URL http:// ou https:// com host, de até {MAX_WEBHOOK_URL} "
                               "caracteres, ou null")
        if self.id_blip is not None and (type(self.id_blip) is not int or not 1 <= self.id_blip <= MAX_BLIP_ID):
            raise InvalidInput(f"id_blip deve ser um inteiro de 1 a {MAX_BLIP_ID}, ou null", campo="id_blip")
        if type(self.publico) is not bool:
            raise InvalidInput("publico deve ser true ou false", campo="publico")
        if not positive_within(self.pulsos_por_kwh, MAX_PULSES_PER_KWH):
            raise InvalidInput(f"pulsos_por_kwh deve ser > 0 e ≤ {MAX_PULSES_PER_KWH:g}", campo="pulsos_por_kwh")
        if self.site is not None and (not isinstance(self.site, str) or not METER_ID.fullmatch(self.site)):
            raise InvalidInput("site deve ser o id de um site ou null", campo="site")
        if self.potencia_maxima_w is not None and not positive_within(self.potencia_maxima_w, MAX_POWER_W):
            raise InvalidInput(f"potencia_maxima_w deve ser > 0 e ≤ {MAX_POWER_W:g} W, ou null", campo="potencia_maxima_w")
        if self.local is not None and (not isinstance(self.local, str) or len(self.local) > MAX_NAME):
            raise InvalidInput(f"local deve ser um texto de até {MAX_NAME} caracteres ou null", campo="local")
        if self.controle is not None and not valid_control(self.controle):
            raise InvalidInput("controle deve ser HOST:PORTA (a porta de controle do agente) ou null", campo="controle")
        if type(self.geracao) is not int or self.geracao < 0:
            raise InvalidInput("geracao deve ser um inteiro ≥ 0")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.fuso)

    @property
    def stream(self) -> str:
        """Where this meter's readings are stored (see the module's docstring)."""
        return stream_key(self.id, self.geracao)

    @classmethod
    def from_json(cls, obj: Any, *, meter_id: str | None = None, defaults: Mapping[str, Any] = {}) -> "Meter":
        """Build from a request body. Unknown fields are refused, so a typo is not silently lost."""
        if not isinstance(obj, Mapping):
            raise InvalidInput("o corpo deve ser um objeto JSON")
        allowed = set(EDITABLE) | ({"id"} if meter_id is None else set())
        unknown = sorted(set(obj) - allowed - ECHOED)
        if unknown:
            raise InvalidInput(f"campos desconhecidos: {', '.join(map(str, unknown))[:200]}")
        values = {**defaults, **{k: obj[k] for k in allowed if k in obj}}
        values["id"] = meter_id if meter_id is not None else obj.get("id")
        if "nome" not in values:
            values["nome"] = values["id"] if isinstance(values["id"], str) else ""
        for name in ("multiplicador", "limite_alerta_kwh", "pulsos_por_kwh", "potencia_maxima_w"):
            # Bounded first: float() of a 400-digit integer raises OverflowError.
            if type(values.get(name)) is int and within(values[name], -MAX_LIMIT_KWH, MAX_LIMIT_KWH):
                values[name] = float(values[name])
        return cls(**values)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "Meter":
        return cls(**{k: v for k, v in doc.items() if k in _FIELD_NAMES})

    def to_json(self) -> dict[str, Any]:
        """The meter as the API shows it (the generation is the server's business)."""
        return {name: getattr(self, name) for name in _PUBLIC_FIELDS}

    def to_doc(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES = tuple(f.name for f in dataclass_fields(Meter))
_PUBLIC_FIELDS = tuple(name for name in _FIELD_NAMES if name != "geracao")
