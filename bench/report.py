"""The benchmark's output: the machine it ran on, the figures against their targets, RESULTS.md.

A figure is a median of repeated measurements; where a baseline was measured in the same run
(the ceiling server, the empty store) the figure's ratio is the median of the per-round ratios,
which cancels most of the noise of a shared machine.
"""
from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

# RESULTS.md keeps what a person wrote between these markers across runs (the analysis of
# missed targets); everything else is regenerated.
NOTES_BEGIN = "<!-- notes: kept across runs -->"
NOTES_END = "<!-- /notes -->"


@dataclass(slots=True)
class Figure:
    """One line of the results table."""

    name: str
    value: str                    # formatted median (and spread)
    target: str = ""              # the target, as text; "" for context figures
    met: bool | None = None       # None: no target
    ratio: str = ""               # against the baseline or the target
    miss: str = ""                # by how much a target is missed, in words
    runs: list[str] = field(default_factory=list)   # each repetition, for the record


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    """`median (min–max, n=3)`: the figure and how much the repetitions disagreed."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))}, n={len(values)})"


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if match:
            cpu = match.group(1).strip()
    except OSError:
        pass
    ram = "unknown"
    try:
        match = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        if match:
            ram = f"{int(match.group(1)) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version() + " (" + platform.python_implementation() + ")",
        "kernel": platform.release(),
    }


def table(figures: list[Figure]) -> str:
    """Plain-text table for the terminal."""
    rows = [("figure", "median", "target", "ratio", "met")]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.name, f.value, f.target, f.ratio, met))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: list[Figure]) -> str:
    out = ["| figure | median (min–max, n) | target | ratio | met |", "|---|---|---|---|---|"]
    for f in figures:
        met = "" if f.met is None else ("✅" if f.met else "❌")
        name = "↳ " + f.name.strip() if f.name.startswith("  ") else f.name
        out.append(f"| {name} | {f.value} | {f.target} | {f.ratio} | {met} |")
    return "\n".join(out)


def kept_notes(path: Path) -> str:
    """The hand-written notes of an earlier RESULTS.md, or a placeholder."""
    try:
        text = path.read_text()
    except OSError:
        return "(no notes yet)"
    start, end = text.find(NOTES_BEGIN), text.find(NOTES_END)
    if start < 0 or end < start:
        return "(no notes yet)"
    return text[start + len(NOTES_BEGIN):end].strip()


def write_results(path: Path, info: dict[str, str], figures: list[Figure], sections: list[tuple[str, str]],
                  command: str) -> None:
    """RESULTS.md: machine, figures, missed targets (measured), extra sections, kept notes."""
    notes = kept_notes(path)
    missed = [f for f in figures if f.met is False]
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `{command}` on {info['date']}. Regenerated on every run; only the notes "
        "section at the end is written by hand and kept.",
        "",
        "## Machine",
        "",
        f"- CPUs (nproc): {info['nproc']} — {info['cpu']}",
        f"- RAM: {info['ram']}",
        f"- Python: {info['python']}; kernel {info['kernel']}",
        "- The machine is shared and noisy: every ratio compares runs made minutes apart in the "
        "same process tree, and each figure is the median of its repetitions.",
        "",
        "## Figures",
        "",
        markdown_table(figures),
        "",
        "## Missed targets (measured)",
        "",
    ]
    if missed:
        lines += [f"- **{f.name}**: {f.miss}" for f in missed]
    else:
        lines.append("None: every target was met in this run.")
    for title, body in sections:
        lines += ["", f"## {title}", "", body.rstrip()]
    lines += ["", "## Notes", "", NOTES_BEGIN, notes, NOTES_END, ""]
    path.write_text("\n".join(lines))
