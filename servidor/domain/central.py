"""Tesla Analyzer's central service (seed 000): acquisition nodes POST each recorded period to
`history/save/<node>/<equip>/` and read periods back from `history/load/…`. Node `4`'s analyzer
`1` is the meter `4-1` here: its periods are ordinary readings, so every screen, report and
invoice of the suite sees them.

A period's form: DATA_HORA `dd/mm/YYYY HH:MM:SS` (the meter's local time), LECTURA a JSON object
`{"CODE": [values…]}` in the units of shared.models.MEASUREMENT_CODES, MODEL the analyzer's model.
A second period of the same meter at the same instant is a duplicate (the node retries after a
lost answer), answered 409 and not stored again.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from servidor.domain.errors import Conflict, InvalidInput, NotFound
from servidor.domain.meters import Meter
from servidor.domain.services import Services
from shared.measurement_names import CODE_NAMES, phase_name
from shared.models import MAX_VALUES_PER_CODE, MEASUREMENT_CODES, METER_ID

NODE_ID = re.compile(r"[A-Za-z0-9._-]{1,20}")
# Codes measured per phase; the others are one value (Tesla sends them as a list of one).
PER_PHASE = frozenset({"TPF", "IPF", "PAF", "THDV", "THDI"})
DATE_TIME = "%d/%m/%Y %H:%M:%S"
DAY = "%d-%m-%Y"
# A load answers at most this many days and lectures: a year of 15-min periods with every code
# is ~1 M lectures (~100 MB of JSON); a client asks for a year month by month.
MAX_LOAD_DAYS = 366
MAX_LECTURES = 200_000
# Readings fetched per page while loading.
LOAD_PAGE = 5_000
# Without CEA the counter is integrated from PAT, but not across a gap longer than this (the
# node was off: the energy of that time is unknown, not PAT × gap).
MAX_INTEGRATION_S = 3600
MAX_FORM_FIELD = 20_000

# One save at a time: a period's seq is the meter's last + 1.
_saving = threading.Lock()


class BadPeriod(InvalidInput):
    """The form cannot be read (answered 400, as Tesla's central did)."""

    code = "periodo_invalido"


@dataclass(frozen=True, slots=True)
class Period:
    when: datetime            # naive local time of the node
    values: dict[str, float | tuple[float, ...]]
    model: str


def meter_id(node: str, equip: str) -> str:
    if not NODE_ID.fullmatch(node):
        raise NotFound(f"nó {node[:40]!r} inválido: letras, dígitos, '.', '_' ou '-', até 20")
    meter = f"{node}-{equip}"
    if not METER_ID.fullmatch(meter):
        raise NotFound(f"analisador {equip[:40]!r} inválido")
    return meter


def parse_period(form: Mapping[str, str]) -> Period:
    raw_when = form.get("DATA_HORA", "").strip()
    try:
        when = datetime.strptime(raw_when, DATE_TIME)
    except ValueError:
        raise BadPeriod(f"DATA_HORA {raw_when[:40]!r} deve ser dd/mm/AAAA HH:MM:SS") from None
    raw = form.get("LECTURA", "")
    if len(raw) > MAX_FORM_FIELD:
        raise BadPeriod("LECTURA grande demais")
    try:
        lectura = json.loads(raw)
    except ValueError:
        raise BadPeriod("LECTURA deve ser um objeto JSON como {\"TPF\": [230.1, 229.8, 231.0]}") from None
    if not isinstance(lectura, dict) or not lectura:
        raise BadPeriod("LECTURA deve ser um objeto JSON com ao menos um código")
    values: dict[str, float | tuple[float, ...]] = {}
    for code, value in lectura.items():
        if code not in MEASUREMENT_CODES:
            raise BadPeriod(f"código desconhecido em LECTURA: {str(code)[:20]} (conhecidos: {', '.join(MEASUREMENT_CODES)})")
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= MAX_VALUES_PER_CODE or not all(
                type(v) in (int, float) and abs(v) < 1e12 for v in items):
            raise BadPeriod(f"{code}: uma lista de 1 a {MAX_VALUES_PER_CODE} números")
        if code in PER_PHASE:
            values[code] = tuple(float(v) for v in items)
        elif len(items) == 1:
            values[code] = float(items[0])
        else:
            raise BadPeriod(f"{code} tem um valor só, não {len(items)}")
    return Period(when, values, form.get("MODEL", "").strip()[:40])


def save(services: Services, node: str, equip: str, form: Mapping[str, str]) -> int:
    """Store one period as a reading of meter `<node>-<equip>` (created at its first period);
    returns its seq. BadPeriod for a form that cannot be read, Conflict for a duplicate."""
    meter_key = meter_id(node, equip)
    period = parse_period(form)
    with _saving:
        meter = services.meters.find(meter_key)
        if meter is None:
            name = f"{period.model or 'Analisador'} {equip} (nó {node})"
            meter, _ = services.meters.create({"id": meter_key, "nome": name})
        try:
            ts_ms = int(period.when.replace(tzinfo=meter.tz).timestamp() * 1000)
        except (OverflowError, ValueError, OSError):
            raise BadPeriod("DATA_HORA fora do intervalo aceito") from None
        if services.history.page(meter, ts_ms, ts_ms + 1, 1).rows:
            raise Conflict(f"o nó {node} já enviou o período {form.get('DATA_HORA')} do analisador {equip}")
        seq = services.history.last_seq(meter) + 1
        reading = _reading(services, meter, seq, ts_ms, period.values)
        outcome = services.ingest.submit(meter, reading)
    if not outcome.aceitas:
        raise Conflict(f"o período {form.get('DATA_HORA')} já estava gravado")
    return seq


def _reading(services: Services, meter: Meter, seq: int, ts_ms: int,
             values: dict[str, float | tuple[float, ...]]) -> dict[str, Any]:
    body: dict[str, Any] = {"seq": seq, "ts": ts_ms}
    for code, value in values.items():
        body[code] = list(value) if isinstance(value, tuple) else value
    power = values.get("PAT")
    if isinstance(power, float):
        body["potencia_w"] = power
    energy = values.get("CEA")
    if isinstance(energy, float):
        body["energia_wh"] = round(energy * 1000, 3)
        return body
    # No counter in the period: continue the previous one, integrating PAT over a short gap.
    previous = services.history.after(meter, seq - 2, 1) if seq > 0 else []
    last_wh = previous[0].energia_wh if previous else 0.0
    if previous and isinstance(power, float) and power > 0:
        gap_s = (ts_ms - previous[0].ts_ms) / 1000
        if 0 < gap_s <= MAX_INTEGRATION_S:
            last_wh += power * gap_s / 3600
    body["energia_wh"] = round(last_wh, 3)
    body["estimada"] = True
    return body


def load(services: Services, node: str, addr: str, variable: str, first: str, last: str) -> list[dict[str, Any]]:
    """The lectures of meter `<node>-<addr>` from day `first` to day `last` (dd-mm-YYYY, both
    included, in the meter's calendar), one per value: variable `TPF0`, `TPF1`… for each phase,
    `FRE` for one value. `variable` is ALL, a code (all its phases) or one phase (`TPF1`)."""
    meter = services.meters.get(meter_id(node, addr))
    try:
        start_day = datetime.strptime(first, DAY).date()
        end_day = datetime.strptime(last, DAY).date()
    except ValueError:
        raise BadPeriod("as datas são dd-mm-AAAA, por exemplo 30-11-2026") from None
    if end_day < start_day:
        raise BadPeriod("a data final vem antes da inicial")
    if (end_day - start_day).days >= MAX_LOAD_DAYS:
        raise BadPeriod(f"no máximo {MAX_LOAD_DAYS} dias por consulta")
    wanted = _wanted(variable)
    start_ms, end_ms = _day_start(meter, start_day), _day_start(meter, end_day + timedelta(days=1))
    out: list[dict[str, Any]] = []
    cursor, from_seq = start_ms, None
    while True:
        page = services.history.page(meter, cursor, end_ms, LOAD_PAGE, from_seq)
        for reading, _ in page.rows:
            stamp = datetime.fromtimestamp(reading.ts_ms / 1000, meter.tz).strftime(DATE_TIME)
            for code, value in reading.medidas:
                values = value if isinstance(value, tuple) else (value,)
                for index, number in enumerate(values):
                    name = f"{code}{index}" if isinstance(value, tuple) else code
                    if wanted is not None and code not in wanted and name not in wanted:
                        continue
                    described = f"{CODE_NAMES[code]}, fase {phase_name(index)}" if isinstance(value, tuple) \
                        else CODE_NAMES[code]
                    out.append({"dataHora": stamp, "variable": name, "descripcio": described, "valor": number,
                                "unitats": MEASUREMENT_CODES[code]})
            if len(out) > MAX_LECTURES:
                raise BadPeriod(f"mais de {MAX_LECTURES} valores: peça menos dias ou uma variável só")
        if page.next_ts is None:
            return out
        cursor, from_seq = page.next_ts, page.next_seq


def _wanted(variable: str) -> frozenset[str] | None:
    variable = variable.upper()
    if variable == "ALL":
        return None
    code = variable.rstrip("0123456789")
    if code not in MEASUREMENT_CODES:
        raise BadPeriod(f"variável {variable[:20]!r} desconhecida: ALL, um código ({', '.join(MEASUREMENT_CODES)}) "
                        "ou um código com a fase (TPF0)")
    return frozenset({variable})


def _day_start(meter: Meter, day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=meter.tz).timestamp() * 1000)
