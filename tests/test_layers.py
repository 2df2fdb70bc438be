"""The layers point down: unikd/ (training) uses neither codegen/ nor unikd_mcu/; codegen/ (deployment) may use
unikd/ but not unikd_mcu/; unikd_mcu/ (command line, hardware in the loop) may use both. Any import counts:
top-level, inside a function, or a module named by a constant string to importlib.import_module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# package -> the project's packages it may import (itself included); firmware/ is data with a Python marker
ALLOWED = {
    "unikd": {"unikd"},
    "codegen": {"codegen", "unikd", "firmware"},
    "unikd_mcu": {"unikd_mcu", "codegen", "unikd", "firmware"},
    "firmware": {"firmware"},
}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, dotted module name) of every import in `source`, including importlib.import_module("...")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            found.append((node.lineno, node.args[0].value))
    return found


def layer_violations(root: Path) -> list[str]:
    """'path:line: package imports module' for every import that points up or sideways."""
    out = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, module in imported_modules(path.read_text()):
                top = module.split(".")[0]
                if top in ALLOWED and top not in allowed:
                    out.append(f"{path.relative_to(root)}:{line}: {package} imports {module}")
    return out


def test_the_layers_point_down():
    assert layer_violations(REPO) == []


@pytest.mark.parametrize("package,source", [
    ("unikd", "from codegen.build import build\n"),
    ("unikd", "def f():\n    import unikd_mcu.hil.client\n"),
    ("unikd", "import importlib\nM = importlib.import_module('codegen.cli')\n"),
    ("codegen", "from unikd_mcu.hil.protocol import Msg\n"),
])
def test_an_import_pointing_up_is_found(tmp_path, package, source):
    """The checker itself: each of these breaks the rule, and is reported with its file and line."""
    for p in ALLOWED:
        (tmp_path / p).mkdir()
        (tmp_path / p / "__init__.py").write_text("")
    (tmp_path / package / "bad.py").write_text(source)
    found = layer_violations(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{package}/bad.py:") and " imports " in found[0], found


def test_allowed_imports_are_not_reported(tmp_path):
    for p in ALLOWED:
        (tmp_path / p).mkdir()
        (tmp_path / p / "__init__.py").write_text("")
    (tmp_path / "codegen" / "ok.py").write_text("from unikd.rundir import load_run\nimport numpy\n")
    (tmp_path / "unikd_mcu" / "ok.py").write_text("import codegen.build\nfrom unikd import train\n")
    assert layer_violations(tmp_path) == []
