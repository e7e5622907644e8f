"""Faturas: the invoices by billing cycle, the lines of the one selected (each with how it was
computed), its issued versions, and export to CSV."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from .. import format as fmt
from ..background import call_api
from ..export import write_invoice_csv
from ..billing_models import Invoice, InvoiceVersion
from .base import MeterPane


# Room for "Consumo TUSD fora de ponta" beside the arithmetic and the value at 80 columns.
ITEM_WIDTH = 30


def _right(text: str) -> Text:
    return Text(text, justify="right")


def _day(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}"


def invoice_heading(invoice: Invoice) -> str:
    state = invoice.situacao + (f", versão {invoice.versao}" if invoice.versao else "")
    partial = f" · parcial: cobertura {fmt.percent(100 * invoice.cobertura)}" if invoice.parcial else ""
    tariff = f" · tarifa {invoice.tarifa}" if invoice.tarifa else ""
    credits = "" if invoice.saldo_creditos_kwh is None else f" · créditos {fmt.kwh(invoice.saldo_creditos_kwh)}"
    return (f"Fatura de {invoice.rotulo} ({_day(invoice.primeiro_dia)} a {_day(invoice.ultimo_dia)}; {state})"
            f"{tariff}{credits}{partial}")


def versions_text(invoice: Invoice, versions: tuple[InvoiceVersion, ...]) -> str:
    """The issued versions, newest first, and the notes of the invoice shown."""
    parts = []
    if versions:
        parts.append("Versões: " + " · ".join(
            f"v{v.versao} {fmt.brl(v.total)} em {v.emitida_em[8:10]}/{v.emitida_em[5:7]} {v.emitida_em[11:16]}"
            for v in versions))
    parts += [f"Aviso: {note}" for note in invoice.avisos]
    return "\n".join(parts)


class InvoicesPane(MeterPane):
    TITLE = "Faturas"
    BINDINGS = [Binding("e", "export", "Exportar CSV")]

    @dataclass
    class Loaded(Message):
        invoices: tuple[Invoice, ...]
        reason: str | None = None

    @dataclass
    class VersionsLoaded(Message):
        mes: str
        versions: tuple[InvoiceVersion, ...]

    @dataclass
    class Exported(Message):
        """The CSV was written to `path`, or could not be (`error`)."""

        path: Path | None
        error: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._invoices: tuple[Invoice, ...] = ()
        self._loaded = False
        # Export asked for (from the palette) before the invoices arrived: done once they do.
        self._export_when_loaded = False

    def compose(self) -> ComposeResult:
        yield DataTable(id="invoice-months", cursor_type="row", zebra_stripes=True)
        yield Static("", id="invoice-heading")
        yield DataTable(id="invoice-items", cursor_type="none", zebra_stripes=True)
        yield Static("", id="invoice-versions")

    def on_mount(self) -> None:
        months = self.query_one("#invoice-months", DataTable)
        months.add_column("Ciclo", key="mes")
        months.add_column("Período", key="periodo")
        months.add_column("kWh", key="kwh")
        months.add_column("Total", key="total")
        months.add_column("Situação", key="situacao")
        months.add_column("Cobertura", key="cobertura")
        items = self.query_one("#invoice-items", DataTable)
        items.add_column("Item", key="descricao", width=ITEM_WIDTH)
        items.add_column("Cálculo", key="calculo")
        items.add_column("Valor", key="valor")

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="faturas")
    def _load(self) -> None:
        listing = call_api(self, "carregar as faturas", lambda: self.app.api.invoice_listing(self.meter.id))
        if listing is not None:
            self.post_message(self.Loaded(*listing))

    def on_invoices_pane_loaded(self, message: Loaded) -> None:
        months = self.query_one("#invoice-months", DataTable)
        selected = self.selected.mes if self.selected else None
        self._invoices = tuple(sorted(message.invoices, key=lambda i: i.mes, reverse=True))
        self._loaded = True
        months.clear()
        for invoice in self._invoices:
            state = invoice.situacao + (f" v{invoice.versao}" if invoice.versao else "")
            months.add_row(
                fmt.month(invoice.mes), f"{_day(invoice.primeiro_dia)}–{_day(invoice.ultimo_dia)}",
                _right(fmt.number(invoice.kwh)), _right(fmt.brl(invoice.total)),
                state + (" (parcial)" if invoice.parcial else ""),
                _right(fmt.percent(100 * invoice.cobertura)), key=invoice.mes,
            )
        if not self._invoices:
            self.query_one("#invoice-heading", Static).update(
                message.reason or "Nenhuma fatura: o medidor ainda não tem leituras.")
            self.query_one("#invoice-items", DataTable).clear()
            return
        keys = [i.mes for i in self._invoices]
        months.move_cursor(row=keys.index(selected) if selected in keys else 0, animate=False)
        self._show_items()
        if self._export_when_loaded:
            self._export_when_loaded = False
            self.action_export()

    @property
    def selected(self) -> Invoice | None:
        months = self.query_one("#invoice-months", DataTable)
        if not self._invoices or not months.row_count:
            return None
        return self._invoices[min(months.cursor_row, len(self._invoices) - 1)]

    @on(DataTable.RowHighlighted, "#invoice-months")
    def _show_items(self) -> None:
        invoice = self.selected
        if invoice is None:
            return
        self.query_one("#invoice-heading", Static).update(invoice_heading(invoice))
        items = self.query_one("#invoice-items", DataTable)
        items.clear()
        for n, line in enumerate(invoice.linhas):
            # The arithmetic ends with "= R$ x", which the Valor column already says.
            how = line.calculo.rsplit(" = ", 1)[0] if " = " in line.calculo else line.calculo
            items.add_row(line.descricao, how, _right(fmt.brl(line.valor)), key=f"item-{n}")
        items.add_row(Text("Total", style="bold"), "soma das linhas", Text(fmt.brl(invoice.total), style="bold",
                                                                           justify="right"), key="total")
        self.query_one("#invoice-versions", Static).update(versions_text(invoice, ()))
        if invoice.situacao == "fechada" and (invoice.versao or 0) > 1:
            self._load_versions(invoice)

    @work(thread=True, exclusive=True, group="versoes")
    def _load_versions(self, invoice: Invoice) -> None:
        versions = call_api(self, "carregar as versões da fatura",
                            lambda: self.app.api.invoice_versions(self.meter.id, invoice.mes))
        if versions is not None:
            self.post_message(self.VersionsLoaded(invoice.mes, versions))

    def on_invoices_pane_versions_loaded(self, message: VersionsLoaded) -> None:
        invoice = self.selected
        if invoice is not None and invoice.mes == message.mes:
            self.query_one("#invoice-versions", Static).update(versions_text(invoice, message.versions))

    def action_export(self) -> None:
        invoice = self.selected
        if invoice is None and not self._loaded:
            self._export_when_loaded = True
            return
        if invoice is None:
            self.notify("Nenhuma fatura para exportar.", severity="warning")
            return
        self._export(invoice)

    @work(thread=True, exclusive=True, group="exportar")
    def _export(self, invoice: Invoice) -> None:
        try:
            path = write_invoice_csv(self.app.export_dir, self.meter.id, invoice)
        except OSError as exc:
            self.post_message(self.Exported(None, str(exc)))
            return
        self.post_message(self.Exported(path))

    def on_invoices_pane_exported(self, message: Exported) -> None:
        if message.path is None:
            self.notify(f"Não foi possível exportar: {message.error}", severity="error")
        else:
            self.notify(f"Fatura exportada para {message.path.absolute()}", title="CSV")

    def focus_main(self) -> None:
        self.query_one("#invoice-months", DataTable).focus()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Faturas: exportar CSV", "Grava a fatura selecionada com seus itens em CSV (e)", self.action_export)
