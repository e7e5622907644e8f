"""What the API's handlers may use: the domain services, and nothing of how they are wired."""
from __future__ import annotations

from dataclasses import dataclass

from servidor.domain.alerts import Alerts
from servidor.domain.blinks import Blinks
from servidor.domain.events import EventService
from servidor.domain.commands import CommandQueue
from servidor.domain.consumption import Consumption
from servidor.domain.history import History
from servidor.domain.ingest import Ingest
from servidor.domain.invoices import Invoices
from servidor.domain.keys import KeyRing
from servidor.domain.legacy import LegacyMeters
from servidor.domain.live import WaiterHub
from servidor.domain.meter_service import MeterService
from servidor.domain.site_flows import SiteFlows
from servidor.domain.sites import SiteService
from servidor.domain.system import SystemStatus
from servidor.domain.tariff_comparison import TariffComparison
from servidor.domain.tariffs import TariffBook


@dataclass(frozen=True, slots=True)
class Services:
    keys: KeyRing
    meters: MeterService
    ingest: Ingest
    history: History
    live: WaiterHub
    consumption: Consumption
    invoices: Invoices
    alerts: Alerts
    commands: CommandQueue
    tariffs: TariffBook
    comparison: TariffComparison
    system: SystemStatus
    sites: SiteService
    flows: SiteFlows
    legacy: LegacyMeters | None = None
    blinks: Blinks | None = None
    events: EventService | None = None
