"""The agent's state file: atomic, private, and refusing what it does not understand."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from medidor.state import AgentState, StateError, StateFile


def test_round_trip_and_private_permissions(tmp_path: Path) -> None:
    file = StateFile(tmp_path / "casa")
    assert file.load() is None
    state = AgentState("casa", "http://s:5000", "me_x", "ml_y", 42, "2026-11", 1234.5, None)
    file.save(state)
    assert file.load() == state
    assert stat.S_IMODE(os.stat(file.path).st_mode) == 0o600
    assert not list((tmp_path / "casa").glob("*.tmp"))


def test_save_replaces_whole_file(tmp_path: Path) -> None:
    file = StateFile(tmp_path)
    file.save(AgentState("a", proximo_seq=1))
    file.save(AgentState("a", proximo_seq=2).but(chave_escrita="k"))
    loaded = file.load()
    assert loaded is not None and loaded.proximo_seq == 2 and loaded.registered


@pytest.mark.parametrize("content, message", [
    ("{torn", "não é JSON válido"),
    (json.dumps({"versao": 9, "medidor": "a"}), "outra versão"),
    (json.dumps({"versao": 1, "medidor": "a", "proximo_seq": -1}), "proximo_seq inválido"),
    (json.dumps({"versao": 1}), "sem o id"),
])
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "estado.json").write_text(content)
    with pytest.raises(StateError, match=message):
        StateFile(tmp_path).load()
