"""Pure billing computation: Brazilian bills per reading cycle, tariffs over time, comparisons.

No I/O: values in, values out, Decimal money, every error a BillingError with a pt-BR message.
The names below are what the API and the terminal app call; see docs/billing.md for the rules.
"""
from servidor.billing.bill import compute_invoice, invoice_for
from servidor.billing.charges import MINIMUM_KWH, Cip, FaixaCip, Tributos, check_connection
from servidor.billing.comparison import Comparacao, compare_tariffs
from servidor.billing.cycles import (Ciclo, check_reading_day, closed_cycles, cycle_for_day, cycle_named,
                                     parse_cycle, previous_cycles)
from servidor.billing.errors import (BillingError, InvalidConsumption, InvalidCycle, InvalidFlagTable,
                                     InvalidTariff, NoTariffInForce)
from servidor.billing.examples import EXAMPLE_TARIFFS
from servidor.billing.holiday_calendar import HolidayCalendar
from servidor.billing.invoice import FaturaCiclo, LinhaFatura
from servidor.billing.plans import PlanoTarifario, VersaoTarifa
from servidor.billing.prices import Faixa, Faixas, Janela, Postos, Preco, PrecoUnico
from servidor.billing.tariff_flags import EXAMPLE_FLAGS, TabelaBandeiras, ValoresBandeiras
from servidor.billing.tariff_json import flags_from_json, flags_to_json, plan_from_json, plan_to_json
from servidor.billing.usage import PerfilConsumo, UsoCiclo, cycle_usage, profile_from_intervals

__all__ = [
    "BillingError", "Ciclo", "Cip", "Comparacao", "EXAMPLE_FLAGS", "EXAMPLE_TARIFFS", "Faixa", "FaixaCip",
    "Faixas", "FaturaCiclo", "HolidayCalendar", "InvalidConsumption", "InvalidCycle", "InvalidFlagTable",
    "InvalidTariff", "Janela", "LinhaFatura", "MINIMUM_KWH", "NoTariffInForce", "PerfilConsumo", "PlanoTarifario",
    "Postos", "Preco", "PrecoUnico", "TabelaBandeiras", "Tributos", "UsoCiclo", "ValoresBandeiras", "VersaoTarifa",
    "check_connection", "check_reading_day", "closed_cycles", "compare_tariffs", "compute_invoice", "cycle_for_day",
    "cycle_named", "cycle_usage", "flags_from_json", "flags_to_json", "invoice_for", "parse_cycle", "plan_from_json",
    "plan_to_json", "previous_cycles", "profile_from_intervals",
]
