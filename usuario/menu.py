"""`usuario --menu`: 004's numbered menu for plain terminals and scripts, on the same ApiClient.

004 asked for a meter id, then offered 1 consumo atual, 2 consumo total, 3 fatura atual,
4 valor da fatura, 0 sair. Here an id is looked up first as a native meter (needs a key that can
read it) and then, if the server does not know it as one, through 004's own route `GET /?id=`:

| opção | medidor nativo (/api/v1) | medidor antigo (004) |
|---|---|---|
| 1 consumo atual | potência agora e kWh de hoje | `consumo_atual_kWh` |
| 2 consumo total | kWh do mês e o contador do medidor | `consumo_total_kWh` |
| 3 fatura atual | itens da fatura do mês corrente | o histórico `Fatura_Atual` |
| 4 valor da fatura | total da fatura do mês (e a projeção) | `Valor_da_Fatura` |

Every answer is read fresh, as 004 did, so a script can poll by repeating an option.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, TextIO

from . import format as fmt
from .api import ApiClient, ApiError, Forbidden, NotFound, RequestFailed, Unauthorized, describe_auth_problem
from .models import LegacyMeter, Meter

MENU = """
1 - consumo atual
2 - consumo total
3 - fatura atual
4 - valor da fatura
0 - sair"""

Clock = Callable[[], datetime]


class MeterSource:
    """How one id is read: a native meter through the API, or a 004 meter through its route."""

    def __init__(self, api: ApiClient, meter_id: str, clock: Clock) -> None:
        self.api = api
        self.meter_id = meter_id
        self.clock = clock
        self.native = True

    def locate(self) -> str:
        """Find the meter; returns a line describing it. Raises ApiError if it is nowhere."""
        if self.api.key:
            try:
                meter = self.api.meter(self.meter_id)
            except (NotFound, Unauthorized, Forbidden) as native_error:
                legacy = self._legacy_or(native_error)
                return f"Medidor antigo (004) {legacy.id}"
            return f"Medidor {meter.nome} ({meter.id})"
        legacy = self._legacy_or(None)
        return f"Medidor antigo (004) {legacy.id}"

    def _legacy_or(self, native_error: ApiError | None) -> LegacyMeter:
        try:
            legacy = self.api.legacy_meter(self.meter_id)
        except NotFound:
            if native_error is not None and not isinstance(native_error, NotFound):
                raise native_error from None
            raise NotFound(f"medidor {self.meter_id} não encontrado") from None
        self.native = False
        return legacy

    def answer(self, option: str) -> list[str]:
        if self.native:
            return native_answer(self.api.meter(self.meter_id), option, self.api, self.clock)
        return legacy_answer(self.api.legacy_meter(self.meter_id), option)


def native_answer(meter: Meter, option: str, api: ApiClient, clock: Clock) -> list[str]:
    summary = meter.resumo
    if option == "1":
        return [f"Consumo atual: {fmt.watts(summary.potencia_w)} agora; {fmt.kwh(summary.kwh_hoje)} hoje"]
    if option == "2":
        counter = None if meter.ultima_leitura is None else meter.ultima_leitura.energia_wh / 1000
        return [f"Consumo total: {fmt.kwh(summary.kwh_mes)} neste mês; contador do medidor {fmt.kwh(counter)}"]
    # The cycle holding today (a day names its cycle, whatever the meter's reading day).
    try:
        invoice = api.invoice(meter.id, clock().astimezone(meter.tz).date().isoformat())
    except RequestFailed as exc:
        if exc.code != "sem_fatura":
            raise
        return [f"Sem fatura: {exc.message}"]
    if option == "3":
        lines = [f"Fatura atual ({invoice.rotulo}, {invoice.situacao}):"]
        for line in invoice.linhas:
            lines.append(f"  {line.descricao}: {line.calculo or fmt.brl(line.valor)}")
        lines.append(f"  Total: {fmt.brl(invoice.total)}")
        return lines
    projected = summary.fatura_projetada
    tail = "" if projected is None else f" (projeção para o mês inteiro: {fmt.brl(projected.total)})"
    return [f"Valor da fatura: {fmt.brl(invoice.total)}{tail}"]


def legacy_answer(meter: LegacyMeter, option: str) -> list[str]:
    if option == "1":
        return [f"Consumo atual: {fmt.kwh(meter.consumo_atual_kwh)}"]
    if option == "2":
        return [f"Consumo total: {fmt.kwh(meter.consumo_total_kwh)}"]
    if option == "3":
        if not meter.historico:
            return ["Fatura atual: sem histórico"]
        return ["Fatura atual:"] + [f"  {line}" for line in meter.historico]
    return [f"Valor da fatura: {meter.valor_fatura or fmt.MISSING}"]


def run_menu(api: ApiClient, stdin: TextIO, stdout: TextIO,
             clock: Clock = lambda: datetime.now(timezone.utc)) -> int:
    """The menu loop. Returns the exit status: 0 on `0` or end of input, 1 if the id is not found."""

    def say(*lines: str) -> None:
        for line in lines:
            stdout.write(line + "\n")
        stdout.flush()

    def ask(prompt: str) -> str | None:
        stdout.write(prompt)
        stdout.flush()
        line = stdin.readline()
        if not line:
            say("")
            return None
        return line.strip()

    meter_id = ask("Digite o ID do medidor: ")
    if not meter_id:
        return 0
    source = MeterSource(api, meter_id, clock)
    try:
        say(source.locate())
    except ApiError as error:
        say(f"Erro: {describe_auth_problem(error)}")
        return 1
    while True:
        say(MENU)
        option = ask("Escolha uma opção: ")
        if option is None or option == "0":
            say("Até logo.")
            return 0
        if option not in ("1", "2", "3", "4"):
            say("Opção inválida: digite 0, 1, 2, 3 ou 4.")
            continue
        try:
            say(*source.answer(option))
        except ApiError as error:
            say(f"Erro: {describe_auth_problem(error)}")
