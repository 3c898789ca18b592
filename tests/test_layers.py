"""The layers of ARCHITECTURE.md: a module never imports from a layer above its own."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LAYERS = [
    "common",
    "accounts",
    "gis_core",
    "areas",
    "wholesale",
    "workorders",
    "billing",
    "integrations",
]
RANK = {name: rank for rank, name in enumerate(LAYERS)}


def imported_top_modules(source: str):
    """(line, top-level package) for every absolute import in the source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module.split(".")[0]


def upward_imports(root: Path) -> list[str]:
    found = []
    for app in LAYERS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for line, target in imported_top_modules(path.read_text(encoding="utf-8")):
                if RANK.get(target, -1) > RANK[app]:
                    found.append(f"{path.relative_to(root)}:{line}: {app} imports {target}")
    return found


def test_no_module_imports_from_a_higher_layer():
    assert upward_imports(REPO) == []


def test_the_check_catches_an_upward_import(tmp_path):
    (tmp_path / "gis_core").mkdir()
    (tmp_path / "gis_core" / "bad.py").write_text("from areas.models import Area\nimport common\n")
    assert upward_imports(tmp_path) == ["gis_core/bad.py:1: gis_core imports areas"]


@pytest.mark.parametrize("app", ["common", "accounts", "gis_core", "areas"])
def test_every_spine_app_exists(app):
    assert (REPO / app / "apps.py").is_file()
