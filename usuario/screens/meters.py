"""The meters the key can see, in a table: sortable, filtered by typing, Enter opens one."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.events import Key, Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from .. import format as fmt
from ..background import call_api
from ..messages import Reconnected
from ..models import Meter, MeterList
from ..widgets.banner import Banner
from .meter import MeterScreen
from .site import SiteScreen


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    sort_key: Callable[[Meter], object]
    # Numbers read best right-aligned, so their digits line up down the column.
    numeric: bool = False
    width: int | None = None


def _projected(meter: Meter) -> float:
    projected = meter.resumo.fatura_projetada
    return -1.0 if projected is None else float(projected.total)


def _power(meter: Meter) -> float:
    # A meter with no recent reading sorts below one drawing 0 W.
    return -1.0 if meter.resumo.potencia_w is None else meter.resumo.potencia_w


# Two-line headers carry the units, so all seven columns fit an 80-column terminal: 65 cells of
# content plus 1 of padding each side of each column is 79, and the scrollbar (1 wide) takes the last.
COLUMNS = (
    Column("nome", "Medidor", lambda m: m.nome.casefold(), width=17),
    Column("categoria", "Categoria", lambda m: fmt.category(m.categoria), width=9),
    Column("potencia", "Agora\nW", _power, numeric=True, width=6),
    Column("hoje", "Hoje\nkWh", lambda m: m.resumo.kwh_hoje, numeric=True, width=7),
    Column("mes", "Mês\nkWh", lambda m: m.resumo.kwh_mes, numeric=True, width=8),
    Column("fatura", "Fatura\nprojetada", _projected, numeric=True, width=11),
    Column("alertas", "Alertas\nativos", lambda m: m.resumo.alertas_ativos, numeric=True, width=7),
)
BY_KEY = {c.key: c for c in COLUMNS}
# Each column has one cell of padding on each side; the vertical scrollbar takes one more.
COLUMN_PADDING = 2
SCROLLBAR = 1
# A wider terminal widens the category up to its longest word ("consumo total") and gives the rest
# to the name, so a long name is not cut while columns stay empty.
CATEGORY_MAX = max(len(name) for name in fmt.CATEGORIES.values())


def column_widths(table_width: int) -> dict[str, int]:
    """Each column's content width for a table `table_width` cells wide: the 80-column layout,
    with whatever is left over going to the category (up to its longest word) and then the name."""
    widths = {c.key: c.width or 0 for c in COLUMNS}
    spare = table_width - SCROLLBAR - sum(w + COLUMN_PADDING for w in widths.values())
    if spare > 0:
        grow = min(spare, CATEGORY_MAX - widths["categoria"])
        widths["categoria"] += grow
        widths["nome"] += spare - grow
    return widths


def matches(meter: Meter, text: str) -> bool:
    """Every word typed appears in the meter's name, id, category or state (any case)."""
    haystack = " ".join((meter.nome, meter.id, meter.categoria, fmt.category(meter.categoria), meter.estado)).casefold()
    return all(word in haystack for word in text.casefold().split())


def _cells(meter: Meter) -> list[Text]:
    summary = meter.resumo
    name = meter.nome if not meter.paused else f"{meter.nome} (pausado)"
    alerts = Text(str(summary.alertas_ativos), style="bold red" if summary.alertas_ativos else "")
    values = [
        Text(name, overflow="ellipsis", no_wrap=True),
        Text(fmt.category(meter.categoria), overflow="ellipsis", no_wrap=True),
        Text(fmt.number(summary.potencia_w, 0)),
        Text(fmt.number(summary.kwh_hoje)),
        Text(fmt.number(summary.kwh_mes)),
        Text(fmt.brl(None if summary.fatura_projetada is None else summary.fatura_projetada.total)),
        alerts,
    ]
    for column, cell in zip(COLUMNS, values):
        if column.numeric:
            cell.justify = "right"
    return values


class MetersScreen(Screen[None]):
    BINDINGS = [
        # A priority binding, so Enter opens the highlighted meter from the filter box too.
        Binding("enter", "open", "Abrir", priority=True),
        Binding("slash", "focus_filter", "Filtrar"),
        Binding("ctrl+o", "next_sort", "Ordenar"),
        Binding("ctrl+r", "reverse_sort", "Inverter"),
        # Out of the footer (it is full at 80 columns): the palette lists it, with its key.
        Binding("ctrl+s", "open_site", "Site", show=False),
        Binding("escape", "clear_filter", "Limpar filtro", show=False),
    ]

    @dataclass
    class Loaded(Message):
        meters: MeterList

    def __init__(self, meters: MeterList | None = None) -> None:
        super().__init__()
        self._meters: tuple[Meter, ...] = meters.medidores if meters else ()
        self._legacy = len(meters.legado) if meters else 0
        self._sort = "nome"
        self._reverse = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Banner(id="banner")
        yield Input(placeholder="Digite para filtrar por nome, id ou categoria", id="filter", select_on_focus=False)
        yield DataTable(id="meters", cursor_type="row", zebra_stripes=True, header_height=2)
        yield Static("", id="meters-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#meters", DataTable)
        self._widths = column_widths(0)
        for column in COLUMNS:
            table.add_column(column.label, key=column.key, width=self._widths[column.key])
        self._render_table()
        table.focus()
        self.set_interval(self.app.refresh_s, self.reload)
        if not self._meters:
            self._load()

    # -- data -------------------------------------------------------------------------------------

    def reload(self) -> None:
        """The periodic refresh: only while this screen is on top and the server answers (the
        banner's retries cover the rest)."""
        if self.is_current and self.app.offline_reason is None:
            self._load()

    @work(thread=True, exclusive=True, group="meters")
    def _load(self) -> None:
        meters = call_api(self, "carregar os medidores", self.app.api.meters)
        if meters is not None:
            self.post_message(self.Loaded(meters))

    def on_meters_screen_loaded(self, message: Loaded) -> None:
        self._meters = message.meters.medidores
        self._legacy = len(message.meters.legado)
        self._render_table()

    def on_reconnected(self, _message: Reconnected) -> None:
        self._load()

    def on_screen_resume(self) -> None:
        # Back from a meter: its state may have changed there (paused, alert acknowledged).
        if self.is_mounted and self.app.offline_reason is None:
            self._load()

    # -- the table --------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        """Columns as wide as the terminal allows (the table spans the screen's width): rebuilt,
        since Textual's columns have no public resize, with the rows, order and selection kept."""
        widths = column_widths(event.size.width)
        if widths == self._widths:
            return
        self._widths = widths
        table = self.query_one("#meters", DataTable)
        selected = self.selected_id
        table.clear(columns=True)
        for column in COLUMNS:
            table.add_column(column.label, key=column.key, width=widths[column.key])
        self._render_table(selected)

    @property
    def visible(self) -> list[Meter]:
        """The meters that pass the filter, in the chosen order."""
        text = self.query_one("#filter", Input).value
        shown = [m for m in self._meters if matches(m, text)]
        column = BY_KEY[self._sort]
        shown.sort(key=lambda m: (column.sort_key(m), m.nome.casefold()), reverse=self._reverse)
        return shown

    def _render_table(self, selected: str | None = None) -> None:
        table = self.query_one("#meters", DataTable)
        selected = selected or self.selected_id
        shown = self.visible
        table.clear()
        for meter in shown:
            table.add_row(*_cells(meter), key=meter.id)
        for column in COLUMNS:
            arrow = ("▼" if self._reverse else "▲") if column.key == self._sort else ""
            label = column.label.replace("\n", arrow + "\n", 1) if "\n" in column.label else column.label + arrow
            table.columns[column.key].label = Text(label, justify="right" if column.numeric else "left")
        ids = [m.id for m in shown]
        if selected in ids:
            table.move_cursor(row=ids.index(selected), animate=False)
        self._render_status(len(shown))

    def _render_status(self, shown: int) -> None:
        total = len(self._meters)
        label = BY_KEY[self._sort].label.replace("\n", " ")
        order = f"ordem: {label} {'decrescente' if self._reverse else 'crescente'}"
        count = f"{shown} de {total} medidores" if shown != total else f"{total} medidores"
        if not total:
            count = "nenhum medidor visível com esta chave"
        # 004's meters have no history or invoices to show here; the numbered menu reads them.
        legacy = f" · {self._legacy} do 004: usuario --menu" if self._legacy else ""
        self.query_one("#meters-status", Static).update(f"{count}{legacy} · {order}")

    @property
    def selected_id(self) -> str | None:
        table = self.query_one("#meters", DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    # -- actions ----------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#meters")  # a mouse click; Enter is the binding above
    def action_open(self) -> None:
        meter_id = self.selected_id
        meter = next((m for m in self._meters if m.id == meter_id), None)
        if meter is None:
            self.notify("Nenhum medidor selecionado.", severity="warning")
            return
        self.app.push_screen(MeterScreen(meter))

    def action_open_site(self) -> None:
        """The site of the selected meter (its grid, its panels), if it belongs to one."""
        meter = next((m for m in self._meters if m.id == self.selected_id), None)
        if meter is None or meter.site is None:
            self.notify("Este medidor não pertence a um site.", severity="warning")
            return
        self.app.push_screen(SiteScreen(meter.site))

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        self.query_one("#meters", DataTable).focus()

    def sort_by(self, key: str, *, reverse: bool | None = None) -> None:
        if reverse is None:
            # Numbers are most useful largest first ("who uses most"); names from A.
            reverse = BY_KEY[key].numeric
        self._sort, self._reverse = key, reverse
        self._render_table()
        # A new order is asked for to see who comes first ("who uses most"): show the top.
        self.query_one("#meters", DataTable).move_cursor(row=0, animate=False)

    def action_next_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.sort_by(keys[(keys.index(self._sort) + 1) % len(keys)])

    def action_reverse_sort(self) -> None:
        self.sort_by(self._sort, reverse=not self._reverse)

    @on(DataTable.HeaderSelected, "#meters")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == self._sort:
            self.action_reverse_sort()
        else:
            self.sort_by(key)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._render_table()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#meters", DataTable).focus()

    def on_key(self, event: Key) -> None:
        """Typing on the table goes to the filter, so a name can be found by just typing it."""
        box = self.query_one("#filter", Input)
        if self.focused is box:
            if event.key in ("down", "escape"):
                if event.key == "escape":
                    box.value = ""
                self.query_one("#meters", DataTable).focus()
                event.stop()
            return
        if event.is_printable and event.character and event.character not in "/ ":
            box.focus()
            box.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def palette_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Abrir medidor", "Abre o medidor selecionado (Enter)", self.action_open)
        yield SystemCommand("Filtrar medidores", "Vai para o campo de filtro (/)", self.action_focus_filter)
        yield SystemCommand("Limpar filtro", "Mostra todos os medidores (Esc)", self.action_clear_filter)
        yield SystemCommand("Abrir o site do medidor", "Rede e solar da casa do medidor selecionado, hora a hora "
                            "(Ctrl+S)", self.action_open_site)
        for column in COLUMNS:
            label = column.label.replace("\n", " ")
            yield SystemCommand(f"Ordenar por {label}", f"Ordena a tabela pela coluna {label}",
                                lambda key=column.key: self.sort_by(key))
        yield SystemCommand("Inverter ordem", "Inverte a ordem da tabela (Ctrl+R)", self.action_reverse_sort)
