"""Whole-file replacement: old or new content after any failure, never a temp file left over."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared.durable import write_atomic


def test_replaces_content_with_the_requested_mode(tmp_path: Path):
    path = tmp_path / "estado.json"
    write_atomic(path, b"one")
    write_atomic(path, b"two", mode=0o600)
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["estado.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    path = tmp_path / "db.json"
    write_atomic(path, b"old")

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    # A full disk cannot be made safely in a test; os.fsync failing is what the caller would see.
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]
