"""The tariff book: versioned tariffs (plans) and the bandeira table, kept in the document store.

A plan is stored as its JSON (servidor.billing.plan_to_json) in the `tarifas` table; the bandeira
table is one document of the `bandeiras` table. On load, a tariff in the old flat shape is read
as the plan that bills the same (tariff_migration) and written back in the new shape. A store
that had no plans yet (new, or written before plans) also gets the example convencional and
Tarifa Branca tariffs, so that there is something to compare with; a user who deletes them does
not get them back. Every refusal of the billing rules is an InvalidInput with the field's path.
"""
from __future__ import annotations

import threading
from datetime import date
from typing import Any, Callable, TypeVar

from servidor.billing import (EXAMPLE_FLAGS, EXAMPLE_TARIFFS, BillingError, PlanoTarifario, TabelaBandeiras,
                              flags_from_json, flags_to_json, plan_from_json, plan_to_json)
from servidor.billing.fields import day
from servidor.billing.tariff_json import version_from_json
from servidor.domain.atomic import Tables, atomic
from servidor.domain.errors import Conflict, InvalidInput, NotFound
from servidor.domain.tariff_migration import DEFAULT_ID, DEFAULT_PLAN, is_flat, plan_from_flat
from servidor.store.documents import DocumentStore

TARIFFS = "tarifas"
FLAGS = "bandeiras"
FLAGS_KEY = "tabela"
T = TypeVar("T")


def refused(build: Callable[[], T], prefix: str | None = None) -> T:
    """Run a billing rule; its BillingError becomes InvalidInput (422) with the field's path."""
    try:
        return build()
    except BillingError as exc:
        error = exc.within(prefix) if prefix else exc
        raise InvalidInput(error.message, campo=error.campo) from None


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("o corpo deve ser um objeto JSON")
    return body


def _vigencia(text: str) -> date:
    return refused(lambda: day("vigencia", text))


class TariffBook:
    def __init__(self, docs: DocumentStore) -> None:
        self._docs = docs
        self._lock = threading.Lock()
        self._plans: dict[str, PlanoTarifario] = {}
        rewrite: list[PlanoTarifario] = []
        stored = docs.all(TARIFFS)
        for doc in stored:
            doc = {k: v for k, v in doc.items() if k != "doc_id"}
            plan = plan_from_flat(doc) if is_flat(doc) else plan_from_json(doc)
            self._plans[plan.id] = plan
            if is_flat(doc):
                rewrite.append(plan)
        seed = not stored or len(rewrite) == len(stored)
        for plan in ((DEFAULT_PLAN,) + (EXAMPLE_TARIFFS if seed else ())):
            if plan.id not in self._plans:
                self._plans[plan.id] = plan
                rewrite.append(plan)
        flags = docs.get(FLAGS, "id", FLAGS_KEY)
        self._flags = EXAMPLE_FLAGS if flags is None else flags_from_json(flags["tabela"])
        if rewrite or flags is None:
            def change(tables: Tables) -> None:
                for plan in rewrite:
                    tables.upsert(TARIFFS, "id", plan_to_json(plan))
                if flags is None:
                    tables.upsert(FLAGS, "id", {"id": FLAGS_KEY, "tabela": flags_to_json(self._flags)})
            atomic(docs, change)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, tariff_id: str) -> PlanoTarifario:
        plan = self._plans.get(tariff_id)
        if plan is None:
            raise NotFound(f"tarifa {tariff_id} não existe")
        return plan

    def for_meter(self, tariff_id: str) -> PlanoTarifario:
        """A meter whose tariff was deleted is billed at the default rather than not at all."""
        return self._plans.get(tariff_id) or self._plans[DEFAULT_ID]

    def exists(self, tariff_id: str) -> bool:
        return tariff_id in self._plans

    def all(self) -> list[PlanoTarifario]:
        return sorted(self._plans.values(), key=lambda p: p.id)

    def flags(self) -> TabelaBandeiras:
        return self._flags

    # -- tariffs ---------------------------------------------------------------------------------

    def create(self, body: Any) -> PlanoTarifario:
        plan = refused(lambda: plan_from_json(_body(body)))
        with self._lock:
            if plan.id in self._plans:
                raise Conflict(f"já existe uma tarifa com id {plan.id}")
            return self._save(plan)

    def replace(self, tariff_id: str, body: Any) -> PlanoTarifario:
        plan = refused(lambda: plan_from_json(_body(body), id=tariff_id))
        with self._lock:
            self.get(tariff_id)
            return self._save(plan)

    def delete(self, tariff_id: str) -> None:
        if tariff_id == DEFAULT_ID:
            raise Conflict("a tarifa padrão não pode ser apagada; altere-a com PUT")
        with self._lock:
            self.get(tariff_id)
            self._docs.delete(TARIFFS, "id", tariff_id)
            del self._plans[tariff_id]

    # -- versions --------------------------------------------------------------------------------

    def version(self, tariff_id: str, vigencia: str) -> tuple[PlanoTarifario, int]:
        """The plan and the index of its version in force from `vigencia` (AAAA-MM-DD)."""
        plan = self.get(tariff_id)
        start = _vigencia(vigencia)
        for index, version in enumerate(plan.versoes):
            if version.vigencia == start:
                return plan, index
        raise NotFound(f"a tarifa {tariff_id} não tem versão com vigência {vigencia}")

    def add_version(self, tariff_id: str, body: Any) -> PlanoTarifario:
        """A new version, after the last one (a version before it is refused: edit that one)."""
        version = refused(lambda: version_from_json(_body(body)))
        with self._lock:
            plan = self.get(tariff_id)
            return self._save(refused(lambda: plan.with_version(version)))

    def replace_version(self, tariff_id: str, vigencia: str, body: Any) -> PlanoTarifario:
        version = refused(lambda: version_from_json(_body(body)))
        with self._lock:
            plan, index = self.version(tariff_id, vigencia)
            versions = plan.versoes[:index] + (version,) + plan.versoes[index + 1:]
            return self._save(refused(lambda: PlanoTarifario(plan.id, plan.nome, versions, plan.feriados_extras,
                                                             plan.feriados_aneel)))

    def delete_version(self, tariff_id: str, vigencia: str) -> PlanoTarifario:
        with self._lock:
            plan, index = self.version(tariff_id, vigencia)
            if len(plan.versoes) == 1:
                raise Conflict("a única versão de uma tarifa não pode ser apagada; apague a tarifa")
            versions = plan.versoes[:index] + plan.versoes[index + 1:]
            return self._save(PlanoTarifario(plan.id, plan.nome, versions, plan.feriados_extras, plan.feriados_aneel))

    # -- bandeiras -------------------------------------------------------------------------------

    def replace_flags(self, body: Any) -> TabelaBandeiras:
        table = refused(lambda: flags_from_json(_body(body)))
        with self._lock:
            self._docs.upsert(FLAGS, "id", {"id": FLAGS_KEY, "tabela": flags_to_json(table)})
            self._flags = table
        return table

    def set_month_flag(self, month: str, body: Any) -> TabelaBandeiras:
        """One month's flag: {"bandeira": "amarela"}."""
        flag = _body(body).get("bandeira")
        if set(_body(body)) - {"bandeira"} or not isinstance(flag, str):
            raise InvalidInput('envie {"bandeira": "<verde|amarela|vermelha_1|vermelha_2|escassez_hidrica>"}',
                               campo="bandeira")
        with self._lock:
            table = refused(lambda: self._flags.with_month(month, flag))
            self._docs.upsert(FLAGS, "id", {"id": FLAGS_KEY, "tabela": flags_to_json(table)})
            self._flags = table
        return table

    def _save(self, plan: PlanoTarifario) -> PlanoTarifario:
        self._docs.upsert(TARIFFS, "id", plan_to_json(plan))
        self._plans[plan.id] = plan
        return plan
