"""The meter's tariff in the Controle tab: its name, its versions (vigência, modalidade, source) and
the selected version as JSON to edit, save as a new version or delete (admin key only).

A version is edited as the JSON the API takes (docs/billing.md): every component of a Brazilian bill
(TUSD/TE, tiers, Tarifa Branca posts, ICMS/PIS/COFINS, CIP) fits, nothing is lost on the way, and the
server's refusal names the field (`versoes[0].energia.janelas[1]`), shown as it comes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Static, TextArea

from ..background import call_api
from ..billing_models import Tariff, TariffVersion

# Shown for a version: modalidade is derived by the server from the energy price, so it is not edited.
DERIVED = ("modalidade",)


def version_json(version: TariffVersion) -> str:
    return json.dumps({k: v for k, v in version.raw.items() if k not in DERIVED}, ensure_ascii=False, indent=1)


def parse_version(text: str) -> dict[str, Any]:
    """The edited version; ValueError in pt-BR when it is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"a versão não é JSON válido (linha {getattr(exc, 'lineno', '?')}): {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a versão deve ser um objeto JSON {…}")
    return value


class TariffEditor(Vertical):
    @dataclass
    class Loaded(Message):
        tariff: Tariff
        saved: str | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tariff: Tariff | None = None

    def compose(self) -> ComposeResult:
        yield Static("Tarifa", id="tariff-title")
        with Horizontal(classes="field"):
            yield Label("Nome")
            yield Input(id="t-nome", classes="tariff-field", compact=True)
            yield Button("Renomear", id="rename-tariff", classes="tariff-field", compact=True)
        yield DataTable(id="tariff-versions", cursor_type="row", zebra_stripes=True)
        yield TextArea(id="t-versao", classes="tariff-field", soft_wrap=False, show_line_numbers=False)
        with Horizontal(id="tariff-buttons"):
            yield Button("Salvar versão", id="save-tariff", variant="primary", classes="tariff-field", compact=True)
            yield Button("Nova versão", id="new-version", classes="tariff-field", compact=True)
            yield Button("Apagar versão", id="delete-version", variant="error", classes="tariff-field", compact=True)
        yield Static("Edite a versão selecionada em JSON; para um reajuste, mude a vigência e use Nova versão.",
                     id="tariff-note")

    def on_mount(self) -> None:
        versions = self.query_one("#tariff-versions", DataTable)
        versions.add_column("Vigência", key="vigencia")
        versions.add_column("Modalidade", key="modalidade")
        versions.add_column("Fonte", key="fonte")
        if self.app.api is not None and self.app.api.is_meter_key:
            for field in self.query(".tariff-field"):
                field.disabled = True
            self.query_one("#tariff-note", Static).update(
                "Só a chave de administração altera tarifas; esta é a chave de leitura do medidor.")

    # -- loading ----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="tarifa")
    def load(self, tariff_id: str) -> None:
        tariff = call_api(self, "carregar a tarifa", lambda: self.app.api.tariff(tariff_id))
        if tariff is not None:
            self.post_message(self.Loaded(tariff))

    def on_tariff_editor_loaded(self, message: Loaded) -> None:
        tariff = self.tariff = message.tariff
        self.query_one("#tariff-title", Static).update(
            f"Tarifa «{tariff.id}» · {tariff.modalidade} · vale para todos os medidores que a usam")
        self.query_one("#t-nome", Input).value = tariff.nome
        table = self.query_one("#tariff-versions", DataTable)
        table.clear()
        for version in tariff.versoes:
            table.add_row(version.vigencia, version.modalidade, version.fonte[:60], key=version.vigencia)
        table.move_cursor(row=len(tariff.versoes) - 1, animate=False)
        self._show_version()
        if message.saved:
            self.notify(message.saved, title="Tarifa")

    @property
    def selected(self) -> TariffVersion | None:
        table = self.query_one("#tariff-versions", DataTable)
        if self.tariff is None or not table.row_count:
            return None
        return self.tariff.versoes[min(table.cursor_row, len(self.tariff.versoes) - 1)]

    @on(DataTable.RowHighlighted, "#tariff-versions")
    def _show_version(self) -> None:
        version = self.selected
        if version is not None:
            self.query_one("#t-versao", TextArea).text = version_json(version)

    # -- editing ----------------------------------------------------------------------------------

    def _edited(self) -> dict[str, Any] | None:
        try:
            return parse_version(self.query_one("#t-versao", TextArea).text)
        except ValueError as exc:
            self.notify(str(exc), severity="error", title="Tarifa")
            return None

    @on(Button.Pressed, "#save-tariff")
    def action_save_version(self) -> None:
        version, body = self.selected, self._edited()
        if self.tariff is None or version is None or body is None:
            return
        self._save(self.tariff.id, version.vigencia, body,
                   f"Versão de {version.vigencia} da tarifa «{self.tariff.id}» salva; as faturas fechadas "
                   "afetadas são reemitidas.")

    @on(Button.Pressed, "#new-version")
    def new_version(self) -> None:
        body = self._edited()
        if self.tariff is None or body is None:
            return
        last = self.tariff.versoes[-1]
        if body.get("vigencia") == last.vigencia:
            body["vigencia"] = date.today().isoformat()
        self._save(self.tariff.id, None, body, f"Nova versão da tarifa «{self.tariff.id}», vigente desde "
                                               f"{body['vigencia']}.")

    @on(Button.Pressed, "#delete-version")
    def delete_version(self) -> None:
        version = self.selected
        if self.tariff is not None and version is not None:
            self._delete(self.tariff.id, version.vigencia)

    @on(Button.Pressed, "#rename-tariff")
    @on(Input.Submitted, "#t-nome")
    def rename(self) -> None:
        name = self.query_one("#t-nome", Input).value.strip()
        if self.tariff is not None and name:
            self._rename(self.tariff, name)

    @work(thread=True, exclusive=True, group="tarifa")
    def _save(self, tariff_id: str, vigencia: str | None, body: dict[str, Any], done: str) -> None:
        saved = call_api(self, "salvar a versão", lambda: self.app.api.save_version(tariff_id, vigencia, body))
        if saved is not None:
            self.post_message(self.Loaded(saved, done))

    @work(thread=True, exclusive=True, group="tarifa")
    def _delete(self, tariff_id: str, vigencia: str) -> None:
        saved = call_api(self, "apagar a versão", lambda: self.app.api.delete_version(tariff_id, vigencia))
        if saved is not None:
            self.post_message(self.Loaded(saved, f"Versão de {vigencia} apagada."))

    @work(thread=True, exclusive=True, group="tarifa")
    def _rename(self, tariff: Tariff, name: str) -> None:
        saved = call_api(self, "renomear a tarifa", lambda: self.app.api.rename_tariff(tariff, name))
        if saved is not None:
            self.post_message(self.Loaded(saved, f"Tarifa «{tariff.id}» salva."))
