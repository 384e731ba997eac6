"""The layout's rule, read from the source: the core (`medxai/`) imports no component except in the command line
(`cli.py`, `commands/`), the one place that composes them; a component imports another only as its client
(the dashboard and the PACS gateway call the explain service over gRPC; the dashboard lists PACS studies)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("export", "explain_service", "dashboard", "pacs", "training")
CLIENT_OF_SERVICE = ("explain_service.client", "explain_service.protos")
ALLOWED = {"export": (), "training": (), "explain_service": (),
           "pacs": CLIENT_OF_SERVICE, "dashboard": (*CLIENT_OF_SERVICE, "pacs")}
"""Per component: the other components' modules (and their submodules) it may import."""


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, those inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
    return found


def component_of(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in COMPONENTS else None


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def test_the_core_imports_no_component_outside_the_command_line():
    core = ROOT / "medxai"
    composers = [core / "cli.py", core / "commands"]
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}" for path in sorted(core.rglob("*.py"))
             if not any(path == composer or composer in path.parents for composer in composers)
             for line, module in imported_modules(path) if component_of(module)]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_component_imports_another_only_as_its_client(component):
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for path in sorted((ROOT / component).rglob("*.py")) for line, module in imported_modules(path)
             if component_of(module) not in (None, component) and not within(module, ALLOWED[component])]
    assert not wrong, "\n".join(wrong)


def test_the_rule_sees_what_it_forbids(tmp_path):
    """The parser finds imports inside functions too (the stack's exports used to hide there)."""
    (tmp_path / "late.py").write_text("def f():\n    from export.release import export_checkpoint\n")
    assert imported_modules(tmp_path / "late.py") == [(2, "export.release")]
