"""Readings out and in as CSV (issue 14 #9): `servidor exportar` and `servidor importar`.

A user moving a history between servers checks that the readings, the invoices and the daily
consumption are the same on both sides, that importing twice adds nothing, and that a bad file
is refused with the line that is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest

from servidor.cli import main
from servidor.domain.readings_csv import HEADER
from tests.data_support import AUG_1, MIN, differences, household, running, server_with_history, what_a_user_sees

MONTHS = ["2026-09", "2026-10"]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    db = tmp_path / "origem" / "db.json"
    db.parent.mkdir()
    server_with_history(db, {"casa": household(1, 8000, 15), "loja": household(100, 5000, 15, base_wh=5e5)})
    return db


def empty_server(tmp_path: Path, name: str, meters=("casa", "loja")) -> Path:
    db = tmp_path / name / "db.json"
    db.parent.mkdir()
    server_with_history(db, {m: [] for m in meters})
    return db


def test_exported_readings_imported_elsewhere_give_the_same_readings_invoices_and_days(source, tmp_path, capsys):
    exported = tmp_path / "leituras.csv"
    assert main(["exportar", str(exported), "--db", str(source)]) == 0
    lines = exported.read_text().splitlines()
    assert lines[0] == ",".join(HEADER) and len(lines) == 1 + 13_000
    assert lines[1].startswith("casa,1,2026-08-01T00:15:00-03:00,") or lines[1].startswith("casa,1,2026-08-01T00:00:00-03:00,")
    target = empty_server(tmp_path, "destino")
    capsys.readouterr()
    assert main(["importar", str(exported), "--db", str(target)]) == 0
    out = capsys.readouterr()
    assert "importando" in out.err and "100%" in out.err  # progress, then the end
    assert "13000 leituras novas, 0 já estavam gravadas" in out.out
    with running(source) as before:
        expected = what_a_user_sees(before, ["casa", "loja"], MONTHS)
    with running(target) as after:
        assert differences(what_a_user_sees(after, ["casa", "loja"], MONTHS), expected) == []
    assert expected["casa"]["faturas"]["2026-09"]["total"]  # a real invoice was compared

    again = tmp_path / "de-novo.csv"
    assert main(["exportar", str(again), "--db", str(target)]) == 0
    assert again.read_bytes() == exported.read_bytes()


def test_importing_the_same_file_twice_adds_nothing(source, tmp_path, capsys):
    exported = tmp_path / "leituras.csv"
    assert main(["exportar", str(exported), "--db", str(source), "--medidor", "casa"]) == 0
    target = empty_server(tmp_path, "destino")
    assert main(["importar", str(exported), "--db", str(target), "--silencioso"]) == 0
    capsys.readouterr()
    assert main(["importar", str(exported), "--db", str(target), "--silencioso"]) == 0
    out = capsys.readouterr().out
    assert "0 leituras novas, 8000 já estavam gravadas" in out
    with running(target) as after:
        assert after.admin.get("/api/v1/medidores/casa/leituras?limite=1").json["total"] == 1
        assert len(what_a_user_sees(after, ["casa"], [])["casa"]["leituras"]) == 8000


def test_a_file_from_another_system_with_the_four_required_columns_and_epoch_ms_imports(tmp_path, capsys):
    target = empty_server(tmp_path, "destino", meters=("casa",))
    history = tmp_path / "outro.csv"
    rows = [f"casa,{i},{AUG_1 + i * 15 * MIN},{1000 + 250 * i}" for i in range(1, 97)]
    history.write_text("medidor,seq,ts,energia_wh\n" + "\n".join(rows) + "\n")
    assert main(["importar", str(history), "--db", str(target)]) == 0
    with running(target) as after:
        day = after.admin.get("/api/v1/medidores/casa/consumo?intervalo=dia&de=2026-08-01&ate=2026-08-01").json
    assert day["total_kwh"] == pytest.approx(95 * 0.25)


def test_a_bad_line_stops_the_import_naming_it_and_the_corrected_file_adds_only_the_rest(tmp_path, capsys):
    target = empty_server(tmp_path, "destino", meters=("casa",))
    history = tmp_path / "ruim.csv"
    good = [f"casa,{i},{AUG_1 + i * MIN},{100 * i}" for i in range(1, 11)]
    history.write_text("medidor,seq,ts,energia_wh\n" + "\n".join(good[:5] + ["casa,6,ontem,600"] + good[6:]) + "\n")
    assert main(["importar", str(history), "--db", str(target)]) == 1
    err = capsys.readouterr().err
    assert "linha 7" in err and "ontem" in err
    history.write_text("medidor,seq,ts,energia_wh\n" + "\n".join(good) + "\n")
    assert main(["importar", str(history), "--db", str(target)]) == 0
    assert "5 leituras novas, 5 já estavam gravadas" in capsys.readouterr().out


@pytest.mark.parametrize("text, says", [
    ("ts,energia\n1,2\n", "cabeçalho"),
    ("medidor,seq,ts,energia_wh\nnenhum,1,1785553200000,1\n", "o medidor 'nenhum' não existe"),
    ("medidor,seq,ts,energia_wh\ncasa,1,1785553200000,-5\n", "energia_wh"),
    ("medidor,seq,ts,energia_wh\ncasa,1,2026-08-01T00:00:00,5\n", "sem fuso"),
    ("medidor,seq,ts,energia_wh\ncasa,1,4102444800000,5\n", "futuro"),
    ("", "vazio"),
])
def test_a_file_that_is_not_readings_csv_is_refused_with_the_reason(tmp_path, capsys, text, says):
    target = empty_server(tmp_path, "destino", meters=("casa",))
    bad = tmp_path / "ruim.csv"
    bad.write_text(text)
    assert main(["importar", str(bad), "--db", str(target)]) == 1
    assert says in capsys.readouterr().err


def test_with_the_server_running_import_says_to_stop_it_and_export_works_from_a_snapshot(source, tmp_path, capsys):
    stopped = tmp_path / "parado.csv"
    assert main(["exportar", str(stopped), "--db", str(source), "--silencioso"]) == 0
    history = tmp_path / "h.csv"
    history.write_text("medidor,seq,ts,energia_wh\ncasa,900000,1785553200000,1\n")
    with running(source) as server:
        assert main(["importar", str(history), "--db", str(source)]) == 4
        assert "está rodando: pare-o antes" in capsys.readouterr().err
        live = tmp_path / "rodando.csv"
        assert main(["exportar", str(live), "--db", str(source), "--silencioso"]) == 0
        assert server.admin.get("/api/v1/medidores/casa").status == 200  # still serving
    assert live.read_bytes() == stopped.read_bytes()
    assert not [p for p in source.parent.iterdir() if p.name.startswith(".exportar-")]  # the snapshot is gone
    with running(source) as server:
        assert server.admin.get("/api/v1/medidores/casa").json["resumo"]["leituras"] == 8000  # nothing imported


def test_export_of_one_meter_and_a_range_of_days_in_its_zone(source, tmp_path):
    out = tmp_path / "agosto.csv"
    assert main(["exportar", str(out), "--db", str(source), "--medidor", "loja", "--de", "2026-08-02",
                 "--ate", "2026-08-02", "--silencioso"]) == 0
    rows = out.read_text().splitlines()[1:]
    assert len(rows) == 96 and all(r.startswith("loja,") for r in rows)
    assert rows[0].split(",")[2] == "2026-08-02T00:00:00-03:00" and rows[-1].split(",")[2] == "2026-08-02T23:45:00-03:00"


def test_interleaved_meters_measurements_and_estimated_readings_come_back_as_they_went_in(tmp_path, capsys):
    target = empty_server(tmp_path, "destino")
    rows = []
    for i in range(1, 301):  # two meters interleaved, one in five with Tesla measurements or estimated
        ts = f"2026-08-01T{i // 60:02d}:{i % 60:02d}:00-03:00"
        medidas = '"{""FRE"":60.0,""TPF"":[220.5,219.0,221.25]}"' if i % 5 == 0 else ""
        rows.append(f"casa,{i},{ts},{10.5 * i},{i % 7 * 100.0},{1 if i % 5 == 1 else 0},{medidas}")
        rows.append(f"loja,{i},{ts},{20.0 * i},,0,")
    history = tmp_path / "misto.csv"
    history.write_text(",".join(HEADER) + "\n" + "\n".join(rows) + "\n")
    assert main(["importar", str(history), "--db", str(target), "--silencioso"]) == 0
    back = tmp_path / "volta.csv"
    assert main(["exportar", str(back), "--db", str(target), "--silencioso"]) == 0
    exported = back.read_text().splitlines()[1:]
    assert sorted(exported) == sorted(rows)


@pytest.mark.parametrize("row, says", [
    ("casa,1,1785553200000,5,nan", "potencia_w"),
    ("casa,9223372036854775808,1785553200000,5,1", "seq"),
    ("casa,1,2026-08-01T00:61:00-03:00,5,1", "ts"),
    ("casa,1,1785553200000,inf,1", "energia_wh"),
])
def test_values_a_reading_refuses_are_refused_in_a_file_of_plain_rows(tmp_path, capsys, row, says):
    target = empty_server(tmp_path, "destino", meters=("casa",))
    bad = tmp_path / "ruim.csv"
    good = [f"casa,{i},{AUG_1 + i * MIN},{i},1" for i in range(2, 500)]
    bad.write_text("medidor,seq,ts,energia_wh,potencia_w\n" + "\n".join(good[:200] + [row] + good[200:]) + "\n")
    assert main(["importar", str(bad), "--db", str(target)]) == 1
    err = capsys.readouterr().err
    assert "linha 202" in err and says in err
