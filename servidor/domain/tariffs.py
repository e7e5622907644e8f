"""The tariff book: versioned tariffs (plans) and the bandeira table, kept in the document store.

A plan is stored as its JSON (servidor.billing.plan_to_json) in the `tarifas` table; the bandeira
table is one document of the `bandeiras` table. On load, a tariff in the old flat shape is read
as the plan that bills the same (tariff_migration) and written back in the new shape. A store
that had no plans yet (new, or written before plans) also gets the example convencional and
Tarifa Branca tariffs, so that there is something to compare with; a user who deletes them does
not get them back. Every refusal of the billing rules is an InvalidInput with the field's path.

Several servers on one database share the book: each change reads the stored plan and writes the
new one in one change of the documents (never from a copy another server may have outdated), and
each server reads the book again once its copy is SHARED_RECHECK_S old (servidor.domain.freshness),
looking a tariff it does not know up before a 404.
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
from servidor.domain.freshness import Freshness
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


def _plan_of(doc: dict[str, Any]) -> PlanoTarifario:
    """A stored tariff, in the old flat shape or as a plan."""
    doc = {k: v for k, v in doc.items() if k != "doc_id"}
    return plan_from_flat(doc) if is_flat(doc) else plan_from_json(doc)


def _existing(plan: PlanoTarifario | None, tariff_id: str) -> PlanoTarifario:
    if plan is None:
        raise NotFound(f"tarifa {tariff_id} não existe")
    return plan


def _version_index(plan: PlanoTarifario, vigencia: str) -> int:
    start = _vigencia(vigencia)
    for index, version in enumerate(plan.versoes):
        if version.vigencia == start:
            return index
    raise NotFound(f"a tarifa {plan.id} não tem versão com vigência {vigencia}")


class TariffBook:
    def __init__(self, docs: DocumentStore) -> None:
        self._docs = docs
        self._lock = threading.Lock()
        self._fresh = Freshness(docs)
        self._plans: dict[str, PlanoTarifario] = {}
        rewrite: list[PlanoTarifario] = []
        stored = docs.all(TARIFFS)
        for doc in stored:
            plan = _plan_of(doc)
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

    def _refresh(self) -> None:
        """Shared documents: the tariffs and the bandeira table as stored now, once this
        server's copy is SHARED_RECHECK_S old (changed through another server meanwhile)."""
        if not self._fresh.due():
            return
        plans = {plan.id: plan for plan in map(_plan_of, self._docs.all(TARIFFS))}
        plans.setdefault(DEFAULT_ID, self._plans.get(DEFAULT_ID, DEFAULT_PLAN))
        flags = self._docs.get(FLAGS, "id", FLAGS_KEY)
        with self._lock:
            self._plans = plans
            if flags is not None:
                self._flags = flags_from_json(flags["tabela"])
        self._fresh.read()

    # -- reading ---------------------------------------------------------------------------------

    def get(self, tariff_id: str) -> PlanoTarifario:
        self._refresh()
        plan = self._plans.get(tariff_id)
        if plan is None and self._fresh.shared:  # made through another server since the last read?
            doc = self._docs.get(TARIFFS, "id", tariff_id)
            if doc is not None:
                plan = self._plans[tariff_id] = _plan_of(doc)
        return _existing(plan, tariff_id)

    def for_meter(self, tariff_id: str) -> PlanoTarifario:
        """A meter whose tariff was deleted is billed at the default rather than not at all."""
        self._refresh()
        return self._plans.get(tariff_id) or self._plans[DEFAULT_ID]

    def exists(self, tariff_id: str) -> bool:
        try:
            self.get(tariff_id)
        except NotFound:
            return False
        return True

    def all(self) -> list[PlanoTarifario]:
        self._refresh()
        return sorted(self._plans.values(), key=lambda p: p.id)

    def flags(self) -> TabelaBandeiras:
        self._refresh()
        return self._flags

    # -- tariffs ---------------------------------------------------------------------------------

    def create(self, body: Any) -> PlanoTarifario:
        plan = refused(lambda: plan_from_json(_body(body)))

        def made(current: PlanoTarifario | None) -> PlanoTarifario:
            if current is not None:
                raise Conflict(f"já existe uma tarifa com id {plan.id}")
            return plan

        return self._change(plan.id, made)

    def replace(self, tariff_id: str, body: Any) -> PlanoTarifario:
        plan = refused(lambda: plan_from_json(_body(body), id=tariff_id))

        def replaced(current: PlanoTarifario | None) -> PlanoTarifario:
            _existing(current, tariff_id)
            return plan

        return self._change(tariff_id, replaced)

    def delete(self, tariff_id: str) -> None:
        if tariff_id == DEFAULT_ID:
            raise Conflict("a tarifa padrão não pode ser apagada; altere-a com PUT")

        def change(tables: Tables) -> None:
            if not tables.remove(TARIFFS, "id", tariff_id):
                raise NotFound(f"tarifa {tariff_id} não existe")

        with self._lock:
            try:
                atomic(self._docs, change)
            except NotFound:
                self._plans.pop(tariff_id, None)  # deleted through another server meanwhile
                raise
            self._plans.pop(tariff_id, None)

    # -- versions --------------------------------------------------------------------------------

    def version(self, tariff_id: str, vigencia: str) -> tuple[PlanoTarifario, int]:
        """The plan and the index of its version in force from `vigencia` (AAAA-MM-DD)."""
        plan = self.get(tariff_id)
        return plan, _version_index(plan, vigencia)

    def add_version(self, tariff_id: str, body: Any) -> PlanoTarifario:
        """A new version, after the last one (a version before it is refused: edit that one)."""
        version = refused(lambda: version_from_json(_body(body)))
        return self._change(tariff_id, lambda current: refused(
            lambda: _existing(current, tariff_id).with_version(version)))

    def replace_version(self, tariff_id: str, vigencia: str, body: Any) -> PlanoTarifario:
        version = refused(lambda: version_from_json(_body(body)))

        def replaced(current: PlanoTarifario | None) -> PlanoTarifario:
            plan = _existing(current, tariff_id)
            index = _version_index(plan, vigencia)
            versions = plan.versoes[:index] + (version,) + plan.versoes[index + 1:]
            return refused(lambda: PlanoTarifario(plan.id, plan.nome, versions, plan.feriados_extras,
                                                  plan.feriados_aneel))

        return self._change(tariff_id, replaced)

    def delete_version(self, tariff_id: str, vigencia: str) -> PlanoTarifario:
        def removed(current: PlanoTarifario | None) -> PlanoTarifario:
            plan = _existing(current, tariff_id)
            index = _version_index(plan, vigencia)
            if len(plan.versoes) == 1:
                raise Conflict("a única versão de uma tarifa não pode ser apagada; apague a tarifa")
            versions = plan.versoes[:index] + plan.versoes[index + 1:]
            return PlanoTarifario(plan.id, plan.nome, versions, plan.feriados_extras, plan.feriados_aneel)

        return self._change(tariff_id, removed)

    # -- bandeiras -------------------------------------------------------------------------------

    def replace_flags(self, body: Any) -> TabelaBandeiras:
        table = refused(lambda: flags_from_json(_body(body)))
        return self._change_flags(lambda current: table)

    def set_month_flag(self, month: str, body: Any) -> TabelaBandeiras:
        """One month's flag: {"bandeira": "amarela"}."""
        flag = _body(body).get("bandeira")
        if set(_body(body)) - {"bandeira"} or not isinstance(flag, str):
            raise InvalidInput('envie {"bandeira": "<verde|amarela|vermelha_1|vermelha_2|escassez_hidrica>"}',
                               campo="bandeira")
        return self._change_flags(lambda current: refused(lambda: current.with_month(month, flag)))

    # -- changes: what is stored, read and written in one change of the documents ----------------

    def _change(self, tariff_id: str, edit: Callable[[PlanoTarifario | None], PlanoTarifario]) -> PlanoTarifario:
        """Store `edit(the stored plan, or None)`; what `edit` raises stores nothing."""
        def change(tables: Tables) -> PlanoTarifario:
            doc = tables.find(TARIFFS, "id", tariff_id)
            plan = edit(None if doc is None else _plan_of(doc))
            tables.upsert(TARIFFS, "id", plan_to_json(plan))
            return plan

        with self._lock:
            plan = atomic(self._docs, change)
            self._plans[plan.id] = plan
        return plan

    def _change_flags(self, edit: Callable[[TabelaBandeiras], TabelaBandeiras]) -> TabelaBandeiras:
        def change(tables: Tables) -> TabelaBandeiras:
            doc = tables.find(FLAGS, "id", FLAGS_KEY)
            table = edit(EXAMPLE_FLAGS if doc is None else flags_from_json(doc["tabela"]))
            tables.upsert(FLAGS, "id", {"id": FLAGS_KEY, "tabela": flags_to_json(table)})
            return table

        with self._lock:
            self._flags = atomic(self._docs, change)
            return self._flags
