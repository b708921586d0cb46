"""The ASAP pause on the kitchen screens (issue 19): the expo's socket starts from a snapshot that
carries the pause and hears every pause and resume (orders/pause.py NOTIFYs `asap_pause`, the
display bridge pushes it); in a real Chromium against a real display process, a Manager's expo
buttons (and the back office's page) pause and resume, and a cook's expo opened before shows and
drops the banner live.

Screenshots: artifacts/browser/70-*.png (skipped without Debian's `chromium`)."""

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from orders.pause import asap_pause, asap_resume
from restaurant.asgi import application
from tests.factories import KITCHEN, MANAGER, staff_user, staff_with_password
from tests.support import chromium, connect, free_port, log_in, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")  # tests/kitchen/conftest.py

WALL = {"width": 1920, "height": 1080}


def expo_socket(headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/kitchen/expo/", headers=headers)


async def next_pause(communicator) -> dict:
    """The next `pause` message, past any other (speed figures, …)."""
    while (message := await communicator.receive_json_from(timeout=10))["type"] != "pause":
        pass
    return message["pause"]


def test_the_expo_socket_carries_the_pause_in_its_snapshot_and_hears_every_change():
    cook = session_headers(staff_user(KITCHEN, "cook", is_staff=False))

    async def body():
        communicator = expo_socket(cook)
        await connect(communicator)
        snapshot = await communicator.receive_json_from(timeout=10)
        until = await database_sync_to_async(asap_pause)(minutes=15, paused_by="boss")
        committed = time.monotonic()
        paused = await next_pause(communicator)
        heard_after = time.monotonic() - committed
        late = expo_socket(cook)  # a screen that connects during the pause
        await connect(late)
        late_snapshot = await late.receive_json_from(timeout=10)
        await late.disconnect()
        await database_sync_to_async(asap_resume)(resumed_by="boss")
        resumed = await next_pause(communicator)
        await communicator.disconnect()
        return snapshot, until, paused, late_snapshot, resumed, heard_after

    snapshot, until, paused, late_snapshot, resumed, heard_after = run(body)
    assert heard_after < 2.0  # every expo within a couple of seconds (the bridge polls LISTEN at each step)
    assert snapshot["pause"]["paused_until"] is None
    assert paused["paused_until"] == until.isoformat() and paused["paused_by"] == "boss"
    assert paused["until_local"] == until.strftime("%H:%M")  # the test menu's kitchen: UTC
    assert late_snapshot["pause"]["paused_until"] == until.isoformat()
    assert resumed["paused_until"] is None


@pytest.mark.slow
def test_a_manager_pauses_asap_from_expo_and_every_expo_shows_the_banner_live(
    processes, start_display, browser_artifacts
):
    from playwright.sync_api import expect

    port = free_port()
    start_display("display", port)
    display = f"http://127.0.0.1:{port}"
    staff_with_password(MANAGER, "boss")
    staff_with_password(KITCHEN, "cook")

    with chromium() as browser:
        errors: list[str] = []
        cook = browser.new_page(viewport=WALL)
        cook.on("pageerror", lambda error: errors.append(str(error)))
        log_in(cook, display, "/kitchen/expo/", "cook")
        expect(cook.locator("#conn")).to_have_class("up", timeout=10_000)
        expect(cook.locator("#pause")).to_be_hidden()
        expect(cook.locator("#pause-controls")).to_have_count(0)  # a cook has no pause buttons

        manager = browser.new_page(viewport=WALL)
        manager.on("pageerror", lambda error: errors.append(str(error)))
        log_in(manager, display, "/kitchen/expo/", "boss")
        expect(manager.locator("#conn")).to_have_class("up", timeout=10_000)
        manager.get_by_role("button", name="Pause ASAP 15 min").click()

        for page in (manager, cook):  # the cook's screen hears it through its socket, not a reload
            expect(page.locator("#pause")).to_be_visible(timeout=5_000)
            expect(page.locator("#pause")).to_contain_text("New ASAP orders paused until")
            expect(page.locator("#pause")).to_contain_text("(boss)")
        manager.screenshot(path=browser_artifacts / "70-expo-paused-manager.png")
        cook.screenshot(path=browser_artifacts / "71-expo-paused-cook.png")

        manager.get_by_role("button", name="Resume ASAP").click()
        for page in (manager, cook):
            expect(page.locator("#pause")).to_be_hidden(timeout=5_000)
        expect(manager.locator("#message")).to_have_text("")

        # From the back office's page just the same: the cook's expo shows it.
        manager.goto(f"{display}/admin/kitchen-busy/")
        manager.get_by_role("button", name="Pause 10 min").click()
        expect(manager.locator("#pause-state")).to_contain_text("New ASAP orders are paused until")
        expect(cook.locator("#pause")).to_be_visible(timeout=5_000)
        manager.screenshot(path=browser_artifacts / "72-admin-kitchen-busy.png", full_page=True)
        manager.get_by_role("button", name="Resume now").click()
        expect(manager.locator("#pause-state")).to_contain_text("New ASAP orders are taken.")
        expect(cook.locator("#pause")).to_be_hidden(timeout=5_000)
    assert errors == [], errors
