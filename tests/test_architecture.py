"""The shape of the code, checked from its imports (parsed, not run): infrastructure imports no app,
apps import each other without a cycle, selectors import no services, and only orders/services.py
writes status rows."""

import ast
import re
from pathlib import Path

import pytest

from tests.support import REPO

APPS = ("menu", "orders", "kitchen", "tracking", "notifications")
# The project's wiring names the apps' routes; nothing else under restaurant/ may import an app.
WIRING = {"restaurant/urls.py", "restaurant/asgi.py", "restaurant/settings.py"}


def sources(*packages: str) -> list[Path]:
    return [
        path
        for package in packages
        for path in sorted((REPO / package).rglob("*.py"))
        if "migrations" not in path.parts and "__pycache__" not in path.parts
    ]


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_infrastructure_imports_no_app():
    offending = {
        relative(path): sorted(module for module in imported_modules(path) if module.split(".")[0] in APPS)
        for path in sources("restaurant")
        if relative(path) not in WIRING
    }
    assert {path: modules for path, modules in offending.items() if modules} == {}


def app_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {app: set() for app in APPS}
    for app in APPS:
        for path in sources(app):
            graph[app].update(m.split(".")[0] for m in imported_modules(path) if m.split(".")[0] in APPS)
        graph[app].discard(app)
    return graph


def test_apps_import_each_other_without_a_cycle():
    graph = app_graph()

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(dep == target or (dep not in seen and reaches(dep, target, seen | {dep})) for dep in graph[start])

    assert [app for app in APPS if reaches(app, app, {app})] == []


@pytest.mark.parametrize("path", [p for p in sources(*APPS) if p.name == "selectors.py"], ids=relative)
def test_selectors_import_no_services(path):
    assert [m for m in imported_modules(path) if m.endswith(".services") or ".services." in m] == []


# A status row built (to insert it) or created through the ORM.
STATUS_ROW_WRITE = re.compile(r"(?<!class )OrderStatusLog\(|OrderStatusLog\.objects\.create|status_log\.create")


def test_only_the_order_services_write_status_rows():
    writers = [relative(path) for path in sources("restaurant", *APPS) if STATUS_ROW_WRITE.search(path.read_text())]
    assert writers == ["orders/services.py"]


def test_the_broker_has_a_kitchen_queue_for_each_order_type_and_no_list_of_its_own():
    from orders.models import OrderType
    from restaurant import broker

    assert broker.kitchen_order_types() == tuple(OrderType.values)
    assert "dine_in" not in (REPO / "restaurant" / "broker.py").read_text()


# Test modules share helpers and fixtures through these and the conftest.py files, never through
# each other: a test module that another one imports runs its tests and fixtures twice over.
TEST_HELPERS = {"tests/factories.py", "tests/amqp.py", "tests/support.py", "tests/settings.py"}


def imported_test_files(path: Path) -> set[str]:
    """The files under tests/ that `path` imports, relative imports included."""
    package = path.relative_to(REPO).parent.parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # `from . import x` (level 1) is from the file's own package, `from .. import x` its parent's.
            within = package[: len(package) - node.level + 1] if node.level else ()
            base = ".".join([*within, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    files = {REPO / f"{name.replace('.', '/')}.py" for name in names if name.split(".")[0] == "tests"}
    return {relative(file) for file in files if file.exists()}


def test_no_test_module_imports_another():
    imports = {relative(path): imported_test_files(path) for path in sorted((REPO / "tests").rglob("*.py"))}

    offending = {
        path: sorted(file for file in files if file not in TEST_HELPERS and Path(file).name != "conftest.py")
        for path, files in imports.items()
    }
    assert {path: files for path, files in offending.items() if files} == {}
    assert imports["tests/amqp.py"] == {"tests/support.py"}  # what it sees of a helper's imports
