"""The meters as handlers use them: create, change, delete and show, each step of a meter's
lifecycle done across every service that keeps something of it."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from servidor.domain.alerts import Alerts
from servidor.domain.atomic import Tables
from servidor.domain.commands import CommandQueue
from servidor.domain.errors import InvalidInput
from servidor.domain.invoices import Invoices
from servidor.domain.auth import Role
from servidor.domain.categories import export_stream, flow_policy
from servidor.domain.keys import METER_ROLES, NewMeterKeys
from servidor.domain.meters import Meter
from servidor.domain.registry import MeterRegistry
from servidor.domain.tariffs import TariffBook
from servidor.domain.views import MeterViews
from servidor.store.interface import ReadingsBackend


class MeterService:
    def __init__(self, registry: MeterRegistry, tariffs: TariffBook, readings: ReadingsBackend,
                 alerts: Alerts, invoices: Invoices, commands: CommandQueue, views: MeterViews,
                 site_exists: Callable[[str], bool] = lambda site: False) -> None:
        self._registry = registry
        self._tariffs = tariffs
        self._readings = readings
        self._alerts = alerts
        self._invoices = invoices
        self._commands = commands
        self._views = views
        self._site_exists = site_exists
        # Called with the deleted meter, after its readings: stores kept beside them (blinks).
        self.on_delete: list[Callable[[Meter], None]] = []

    def get(self, meter_id: str) -> Meter:
        return self._registry.get(meter_id)

    def find(self, meter_id: str) -> Meter | None:
        return self._registry.find(meter_id)

    def all(self) -> tuple[Meter, ...]:
        return self._registry.all()

    def view(self, meter: Meter, now_ms: int, *, detail: bool) -> dict[str, Any]:
        return self._views.view(meter, now_ms, detail=detail)

    def _check_tariff(self, body: Any) -> None:
        if isinstance(body, dict) and "tarifa" in body and not self._tariffs.exists(str(body["tarifa"])):
            raise InvalidInput(f"tarifa {str(body['tarifa'])[:100]} não existe")
        site = body.get("site") if isinstance(body, dict) else None
        if isinstance(site, str) and not self._site_exists(site):
            raise InvalidInput(f"site {site[:100]} não existe (crie-o em /api/v1/sites)", campo="site")

    def configure_store(self, meter: Meter) -> None:
        """Tell the readings store the meter's zone and how its counters move."""
        for stream in (meter.stream, export_stream(meter)):
            self._readings.set_timezone(stream, meter.tz)
        self._readings.set_flow(meter.stream, flow_policy(meter))

    def create(self, body: Any) -> tuple[Meter, NewMeterKeys]:
        """A new meter with its keys (one write); its readings start empty even if its id was
        used before (see servidor.domain.meters)."""
        self._check_tariff(body)
        meter, keys = self._registry.create(body)
        self.configure_store(meter)
        return meter, keys

    def replace(self, meter_id: str, body: Any) -> Meter:
        self._registry.get(meter_id)
        self._check_tariff(body)
        meter = self._registry.replace_fields(meter_id, body)
        self.configure_store(meter)
        return meter

    def delete(self, meter_id: str) -> None:
        """Remove the meter, its keys, alerts, invoices and commands in one write, then its
        readings (a tombstone on its stream). A crash between the two leaves readings nobody can
        reach: the id's next meter uses the next generation's stream."""
        def also(tables: Tables) -> None:
            for service in (self._alerts, self._invoices, self._commands):
                service.remove_rows(tables, meter_id)

        meter = self._registry.delete(meter_id, also)
        for service in (self._alerts, self._invoices, self._commands):
            service.forget(meter_id)
        self._readings.delete_meter(meter.stream)
        self._readings.delete_meter(export_stream(meter))
        for forget in self.on_delete:
            forget(meter)

    # -- keys ----------------------------------------------------------------------------------------

    def keys(self, meter_id: str) -> list[dict[str, Any]]:
        self._registry.get(meter_id)
        return self._registry.key_list(meter_id)

    def replace_keys(self, meter_id: str, body: Any) -> NewMeterKeys:
        """New keys for the roles in `body` (`{"papeis": ["escrita"]}`; none: both); the old ones
        stop working at once."""
        return self._registry.replace_keys(meter_id, meter_roles(body.get("papeis") if isinstance(body, dict) else None))

    def revoke_key(self, meter_id: str, role: str) -> None:
        self._registry.revoke_keys(meter_id, meter_roles([role]))


def meter_roles(names: Any) -> Sequence[Role]:
    """The meter key roles named in a request (None: both); InvalidInput otherwise."""
    if names is None:
        return METER_ROLES
    valid = {role.value: role for role in METER_ROLES}
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n in valid for n in names):
        raise InvalidInput(f"papeis deve ser uma lista com {' e/ou '.join(valid)}")
    return tuple(dict.fromkeys(valid[n] for n in names))
