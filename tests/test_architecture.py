"""The shape of the code, checked from its imports (parsed, not run): infrastructure imports no app,
apps import each other without a cycle (their migrations included), migrations import no application
code, selectors import no services, and only orders/services.py writes status rows."""

import ast
import re
from pathlib import Path
from unittest import mock

import pytest

from tests.support import REPO

APPS = ("menu", "orders", "kitchen", "tracking", "notifications")
# The project's wiring names the apps' routes; nothing else under restaurant/ may import an app.
WIRING = {"restaurant/urls.py", "restaurant/asgi.py", "restaurant/settings.py"}


def sources(*packages: str, migrations: bool = False) -> list[Path]:
    return [
        path
        for package in packages
        for path in sorted((REPO / package).rglob("*.py"))
        if (migrations or "migrations" not in path.parts) and "__pycache__" not in path.parts
    ]


def migration_files(*packages: str) -> list[Path]:
    return [path for path in sources(*packages, migrations=True) if "migrations" in path.parts]


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
        for path in sources(app, migrations=True):
            graph[app].update(m.split(".")[0] for m in imported_modules(path) if m.split(".")[0] in APPS)
        graph[app].discard(app)
    return graph


def test_apps_import_each_other_without_a_cycle():
    graph = app_graph()

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(dep == target or (dep not in seen and reaches(dep, target, seen | {dep})) for dep in graph[start])

    assert [app for app in APPS if reaches(app, app, {app})] == []


def migration_dependencies(path: Path) -> set[str]:
    """The migrations a migration file's `dependencies` names, as modules (`orders.migrations.0002_...`)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = [getattr(target, "id", None) for target in node.targets] if isinstance(node, ast.Assign) else []
        if names == ["dependencies"]:
            pairs = [ast.literal_eval(item) for item in node.value.elts if isinstance(item, ast.Tuple)]
            return {f"{app_label}.migrations.{name}" for app_label, name in pairs}
    return set()


@pytest.mark.parametrize("path", migration_files("restaurant", *APPS), ids=relative)
def test_migrations_import_no_application_code(path):
    """A migration is history: it holds its data literally and reaches models through `apps.get_model`,
    so a change to the code cannot change what it did. It may import Django and the migrations it
    depends on, nothing else of the project."""
    project = {"restaurant", *APPS}
    dependencies = migration_dependencies(path)

    def allowed(module: str) -> bool:
        # `from orders.migrations.0002_x import name` is listed as the module and as module.name.
        return module in dependencies or module.rpartition(".")[0] in dependencies

    offending = [module for module in imported_modules(path) if module.split(".")[0] in project and not allowed(module)]
    assert offending == []


@pytest.mark.parametrize("path", [p for p in sources(*APPS) if p.name == "selectors.py"], ids=relative)
def test_selectors_import_no_services(path):
    assert [m for m in imported_modules(path) if m.endswith(".services") or ".services." in m] == []


# A status row built (to insert it) or created through the ORM.
STATUS_ROW_WRITE = re.compile(r"(?<!class )OrderStatusLog\(|OrderStatusLog\.objects\.create|status_log\.create")


def test_only_the_order_services_write_status_rows():
    writers = [relative(path) for path in sources("restaurant", *APPS) if STATUS_ROW_WRITE.search(path.read_text())]
    assert writers == ["orders/services.py"]


def test_the_broker_names_no_app_queue_and_declares_the_kitchen_queue_of_each_order_type():
    from kitchen.topology import kitchen_queue
    from orders.models import OrderType
    from restaurant import broker

    channel = mock.Mock()
    broker.declare_topology(channel)

    declared = [call.args[0] for call in channel.queue_declare.call_args_list]
    assert declared == [broker.DEAD_LETTER_QUEUE, *(kitchen_queue(order_type) for order_type in OrderType.values)]
    source = (REPO / "restaurant" / "broker.py").read_text()
    assert "dine_in" not in source and "kitchen_" not in source and "kitchen." not in source


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
