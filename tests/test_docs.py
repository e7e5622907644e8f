"""What a user or maintainer reads lives in the repository (issue 14 #8): nothing points outside
it, drivers/README lists the modules that exist, and the package metadata builds without the
setuptools deprecation of `project.license` as a table."""
from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"DOMAIN\.md|\.\./shared|/work/shared|shared/guides|shared/seeds")


def tracked_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / n for n in names.splitlines() if (ROOT / n).is_file()]


def test_nothing_in_the_repository_points_outside_it():
    pointing = []
    for path in tracked_files():
        if path.suffix in {".png", ".svg", ".gz", ".seg", ".log"} or path.name == Path(__file__).name:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        pointing += [f"{path.relative_to(ROOT)}: {m.group()}" for m in OUTSIDE.finditer(text)]
    assert pointing == []


def test_drivers_readme_lists_every_module_and_only_modules_that_exist():
    readme = (ROOT / "drivers" / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `([\w/]+(?:\.py|/))` \|", readme, re.M)
    for name in table:
        assert (ROOT / "drivers" / name).exists(), f"drivers/README.md lists {name}, which does not exist"
    modules = {p.name for p in (ROOT / "drivers").glob("*.py") if p.name != "__init__.py"}
    assert modules <= set(table), f"not in drivers/README.md: {sorted(modules - set(table))}"
    for named in re.findall(r"`(\w+\.py)`", readme):
        assert list(ROOT.glob(f"**/{named}")), named
    assert (ROOT / "docs" / "protocolos.md").exists() and "docs/protocolos.md" in readme


def test_the_license_is_an_spdx_string_for_the_setuptools_that_reads_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)
    requires = " ".join(project["build-system"]["requires"])
    assert int(re.search(r"setuptools>=(\d+)", requires).group(1)) >= 77  # PEP 639 strings
