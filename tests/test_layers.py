"""The packages import one way: each may import only the packages listed for it here,
so the engine never reaches into a front end and the two front ends share
`installation` instead of importing each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "feel": set(),
    "engine": {"feel"},
    "forms": {"feel"},
    "routines": {"engine", "feel"},
    "installation": {"engine", "feel", "forms", "routines"},
    "webui": {"engine", "feel", "forms", "installation", "routines"},
    "tiltak": {"engine", "feel", "forms", "installation", "routines", "webui"},
}


def imported_packages(file: Path) -> set[str]:
    """The project's packages a module imports, lazy imports inside functions included."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_every_package_imports_only_the_packages_below_it():
    wrong = []
    for package, allowed in ALLOWED.items():
        for file in sorted((ROOT / package).rglob("*.py")):
            for target in sorted(imported_packages(file) - allowed - {package}):
                wrong.append(f"{file.relative_to(ROOT)} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_check_sees_an_import_against_the_layers(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from webui import create_app\n    import tiltak.cli\n")
    assert imported_packages(module) == {"webui", "tiltak"}
