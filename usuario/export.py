"""An invoice as a CSV file a Brazilian spreadsheet opens as is.

pt-BR spreadsheets (Excel, LibreOffice in a Brazilian locale) read `;` as the field separator and
`,` as the decimal comma, so that is what is written; UTF-8 with a BOM so accents survive Excel.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from shared.money import format_number_br

from .billing_models import Invoice

HEADER = ("ciclo", "grupo", "descricao", "quantidade", "unidade", "preco_unitario", "valor", "calculo")
# Tariff resolutions publish prices per kWh with up to 6 places and the server sends kWh with 3;
# cutting either would make a line's quantity × price disagree with its value. Money keeps 2.
PRICE_DECIMALS = 6
QUANTITY_DECIMALS = 3


def invoice_filename(meter_id: str, invoice: Invoice) -> str:
    return f"fatura-{meter_id}-{invoice.mes}.csv"


def write_invoice_csv(directory: Path, meter_id: str, invoice: Invoice) -> Path:
    """Write the invoice's lines (with how each was computed), then subtotal, taxes and total;
    returns the file written.

    Written to a temporary name and renamed, so a half-written file never has the final name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / invoice_filename(meter_id, invoice)
    temp = path.with_name(path.name + ".tmp")
    with temp.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for line in invoice.linhas:
            writer.writerow((invoice.mes, line.grupo, line.descricao,
                             "" if line.quantidade is None else format_number_br(line.quantidade, QUANTITY_DECIMALS),
                             line.unidade or "", "" if line.preco is None else format_number_br(line.preco, PRICE_DECIMALS),
                             format_number_br(line.valor, 2), line.calculo))
        for label, value in (("Subtotal", invoice.subtotal), ("Tributos", invoice.tributos), ("Total", invoice.total)):
            writer.writerow((invoice.mes, "", label, "", "R$", "", format_number_br(value, 2), ""))
    os.replace(temp, path)
    return path
