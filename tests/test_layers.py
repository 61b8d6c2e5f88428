"""The packages import one way: each may import only the packages listed for it here,
so the engine never reaches into a front end and the two front ends share
`installation` instead of importing each other. Inside the engine the rooms import one
way too, and no module or class grows past what a reader takes in at one sitting."""

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


# the engine's rooms, each with the parts of the engine it must not import: the rooms
# above it (engine/<room>/__init__.py says what each holds and what it may import)
ENGINE_ROOMS = {
    "model": {"execution", "identity", "queries", "store", "history", "services", "core",
              "runtime", "timers"},
    "execution": {"identity", "queries", "store", "history", "services", "core", "runtime",
                  "timers", "serialization"},
    "identity": {"model", "execution", "queries", "store", "history", "services", "core",
                 "runtime", "timers"},
    "store": {"queries", "history", "services", "core", "runtime", "timers"},
    "queries": {"history", "services", "core", "runtime", "timers"},
    "history": {"services", "core", "runtime", "timers"},
    "services": {"runtime", "timers"},
}

# lines a module or a class may have before it is split by concern
MODULE_LINES = 450
CLASS_LINES = 330
# still over the limits, each to be split by concern (remove an entry once it is)
TOO_LONG: set[str] = set()


def imported_modules(file: Path) -> set[str]:
    """The dotted names a module imports, relative imports resolved, lazy imports inside
    functions included; `from a import b` gives both `a` and `a.b`."""
    package = list(file.relative_to(ROOT).parts[:-1]) if file.is_relative_to(ROOT) else []
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def imported_packages(file: Path) -> set[str]:
    """The project's packages a module imports, lazy imports inside functions included."""
    return {name.split(".")[0] for name in imported_modules(file)} & set(ALLOWED)


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


def test_the_rooms_of_the_engine_import_only_the_rooms_below_them():
    wrong = []
    for room, above in ENGINE_ROOMS.items():
        for file in sorted((ROOT / "engine" / room).rglob("*.py")):
            for name in sorted(imported_modules(file)):
                parts = name.split(".")
                if parts[0] == "engine" and len(parts) > 1 and parts[1] in above:
                    wrong.append(f"{file.relative_to(ROOT)} imports {name}")
    assert not wrong, "imports against the engine's rooms:\n" + "\n".join(sorted(set(wrong)))


def test_the_check_resolves_relative_imports():
    file = ROOT / "engine" / "execution" / "walking.py"
    assert "engine.execution.task_states" in imported_modules(file)


def too_long(file: Path) -> list[str]:
    """What in a module is over the limits: the module itself, or a class."""
    text = file.read_text(encoding="utf-8")
    name = file.relative_to(ROOT) if file.is_relative_to(ROOT) else file.name
    found = []
    if len(text.splitlines()) > MODULE_LINES:
        found.append(f"{name}: {len(text.splitlines())} lines")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > CLASS_LINES:
            found.append(f"{name}: class {node.name}, {node.end_lineno - node.lineno + 1} lines")
    return found


def project_modules() -> list[Path]:
    # a migration records one change of the schema and is never edited afterwards
    return [file for package in ALLOWED for file in sorted((ROOT / package).rglob("*.py"))
            if "versions" not in file.relative_to(ROOT).parts]


def test_no_module_or_class_is_too_long_to_read_in_one_sitting():
    wrong = [problem for file in project_modules()
             if file.relative_to(ROOT).as_posix() not in TOO_LONG
             for problem in too_long(file)]
    assert not wrong, (f"over {MODULE_LINES} lines a module, {CLASS_LINES} a class; split "
                       "by concern:\n" + "\n".join(wrong))


def test_every_module_allowed_to_be_long_still_is():
    short = sorted(name for name in TOO_LONG if not too_long(ROOT / name))
    assert not short, f"split now, remove from TOO_LONG: {', '.join(short)}"


def test_the_length_check_sees_a_long_module_and_a_long_class(tmp_path):
    body = "".join(f"    x{n} = {n}\n" for n in range(CLASS_LINES))
    module = tmp_path / "m.py"
    module.write_text("class Short:\n    pass\n\n\nclass Long:\n" + body)
    assert too_long(module) == [f"m.py: class Long, {CLASS_LINES + 1} lines"]
    module.write_text("x = 1\n" * (MODULE_LINES + 1))
    assert too_long(module) == [f"m.py: {MODULE_LINES + 1} lines"]
    module.write_text("x = 1\n" * MODULE_LINES)
    assert too_long(module) == []
