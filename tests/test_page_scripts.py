"""The pages' scripts: static files (no inline script code or handlers in a template, so a
Content-Security-Policy without 'unsafe-inline' is possible), one file opening WebSockets
(kitchen/static/kitchen/live.js), its node tests (tests/js/, `node --test`), and the static files
served by the web process and the display process alike, with no collectstatic step."""

import re
import shutil
import subprocess

import pytest
import requests

from tests.support import REPO, free_port, start_web

SOURCE_DIRS = ("restaurant", "orders", "menu", "kitchen", "tracking", "notifications", "tests", "scripts", "docs")
# <script> with no src: only JSON data (json_script) may be inline.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
PAGE_SCRIPTS = ["kitchen/live.js", "kitchen/display.js", "kitchen/board.js", "kitchen/track.js"]
PAGE_SCRIPTS += ["kitchen/order.js", "kitchen/ordering.js", "kitchen/pause.js", "orders/staff_order.js"]


def templates() -> list:
    return sorted(path for folder in SOURCE_DIRS for path in (REPO / folder).rglob("*.html"))


def test_templates_hold_no_inline_script_code_or_handlers():
    assert templates(), "no templates found"
    for path in templates():
        text = path.read_text()
        assert not INLINE_SCRIPT.search(text), f"{path}: inline <script> (move it to a static file)"
        assert not INLINE_HANDLER.search(text), f"{path}: an inline on…= handler (use addEventListener)"
        assert "javascript:" not in text.lower(), path


def test_one_file_opens_websockets():
    opens = "new WebSocket" + "("  # split, so that this file does not count itself
    files = [
        path
        for folder in SOURCE_DIRS
        for path in (REPO / folder).rglob("*")
        if path.suffix in {".js", ".html", ".py", ".mjs"} and opens in path.read_text()
    ]
    assert [path.relative_to(REPO).as_posix() for path in files] == ["kitchen/static/kitchen/live.js"]


def test_the_socket_module_passes_its_node_tests():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run([node, "--test", "tests/js/"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# fail 0$", result.stdout, re.MULTILINE), result.stdout


def test_django_serves_the_page_scripts_from_the_apps(client):
    for name in PAGE_SCRIPTS:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/javascript"), (name, response["Content-Type"])


@pytest.mark.slow
def test_the_web_and_display_processes_serve_the_page_scripts(processes, start_display):
    port = free_port()
    start_display("display", port)
    for base in (start_web(processes), f"http://127.0.0.1:{port}"):
        for name in PAGE_SCRIPTS:
            response = requests.get(f"{base}/static/{name}", timeout=5)
            assert response.status_code == 200, (base, name)
            assert response.headers["Content-Type"].startswith("text/javascript"), (base, name)
            assert response.text == (REPO / name.split("/")[0] / "static" / name).read_text(), (base, name)
