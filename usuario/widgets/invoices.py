"""Faturas: the invoices by month, the line items of the one selected, and export to CSV."""
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
from ..models import Invoice
from .base import MeterPane


# Energy prices are published to the tenth of a centavo and beyond; a fee per month is money.
PRICE_DECIMALS = {"kWh": 4}
# Room for "Energia (faixa 2: acima de 100 kWh)" beside quantity, unit, price and value at 80 columns.
ITEM_WIDTH = 36


def _right(text: str) -> Text:
    return Text(text, justify="right")


def invoice_heading(invoice: Invoice) -> str:
    state = invoice.situacao + (f", versão {invoice.versao}" if invoice.versao else "")
    partial = f" · parcial: cobertura {fmt.percent(100 * invoice.cobertura)}" if invoice.parcial else ""
    tariff = f" · tarifa {invoice.tarifa}" if invoice.tarifa else ""
    return f"Fatura de {fmt.month(invoice.mes)} ({state}){tariff}{partial}"


class InvoicesPane(MeterPane):
    TITLE = "Faturas"
    BINDINGS = [Binding("e", "export", "Exportar CSV")]

    @dataclass
    class Loaded(Message):
        invoices: tuple[Invoice, ...]

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

    def on_mount(self) -> None:
        months = self.query_one("#invoice-months", DataTable)
        months.add_column("Mês", key="mes")
        months.add_column("kWh", key="kwh")
        months.add_column("Total", key="total")
        months.add_column("Situação", key="situacao")
        months.add_column("Cobertura", key="cobertura")
        items = self.query_one("#invoice-items", DataTable)
        items.add_column("Item", key="descricao", width=ITEM_WIDTH)
        items.add_column("Qtd.", key="quantidade")
        items.add_column("Un.", key="unidade")
        items.add_column("Preço", key="preco")
        items.add_column("Valor", key="valor")

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="faturas")
    def _load(self) -> None:
        invoices = call_api(self, "carregar as faturas", lambda: self.app.api.invoices(self.meter.id))
        if invoices is not None:
            self.post_message(self.Loaded(invoices))

    def on_invoices_pane_loaded(self, message: Loaded) -> None:
        months = self.query_one("#invoice-months", DataTable)
        selected = self.selected.mes if self.selected else None
        self._invoices = tuple(sorted(message.invoices, key=lambda i: i.mes, reverse=True))
        self._loaded = True
        months.clear()
        for invoice in self._invoices:
            months.add_row(
                fmt.month(invoice.mes), _right(fmt.number(invoice.kwh)), _right(fmt.brl(invoice.total)),
                invoice.situacao + (" (parcial)" if invoice.parcial else ""),
                _right(fmt.percent(100 * invoice.cobertura)), key=invoice.mes,
            )
        if not self._invoices:
            self.query_one("#invoice-heading", Static).update("Nenhuma fatura: o medidor ainda não tem leituras.")
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
        for n, item in enumerate(invoice.itens):
            decimals = 3 if item.unidade == "kWh" else 2
            items.add_row(item.descricao, _right(fmt.number(item.quantidade, decimals)), item.unidade,
                          _right(fmt.number(item.preco_unitario, PRICE_DECIMALS.get(item.unidade, 2))),
                          _right(fmt.brl(item.valor)), key=f"item-{n}")
        items.add_row(Text("Total", style="bold"), "", "", "", Text(fmt.brl(invoice.total), style="bold", justify="right"),
                      key="total")

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
