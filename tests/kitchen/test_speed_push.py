"""The speed figures pushed by each display process's bridge (kitchen/bridge.py) to every kitchen
screen it serves: once per change that moves them, read once for all the screens, and every 30 s as
the last hour slides. No screen has to ask (`{"action": "speed"}` still answers: test_display.py)."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from kitchen import screens
from kitchen.bridge import SPEED_EVERY, SPEED_GATHER, SPEED_PACE, DisplayBridge
from orders.services import order_mark_ready
from tests.factories import KITCHEN, create_order, load_test_menu, staff_user
from tests.support import connect, kitchen_socket, run, session_headers

pytestmark = pytest.mark.usefixtures("fresh_layer")


@pytest.fixture
def speed_reads(monkeypatch) -> list[float]:
    """When `kitchen_speed` was called (monotonic), by a snapshot or by a bridge."""
    calls, read = [], screens.kitchen_speed

    def counted(**kwargs):
        calls.append(time.monotonic())
        return read(**kwargs)

    monkeypatch.setattr(screens, "kitchen_speed", counted)
    return calls


async def open_screens(*cooks: str) -> tuple[list[WebsocketCommunicator], list[dict]]:
    """A kitchen screen per cook, connected (which starts this loop's bridge), with their snapshots."""
    cook_users = [await database_sync_to_async(staff_user)(KITCHEN, cook, is_staff=False) for cook in cooks]
    sockets = [kitchen_socket(await database_sync_to_async(session_headers)(user)) for user in cook_users]
    snapshots = []
    for socket in sockets:
        await connect(socket)
        snapshots.append(await socket.receive_json_from(timeout=10))
    return sockets, snapshots


async def messages_within(socket: WebsocketCommunicator, seconds: float) -> list[dict]:
    """Every message the socket gets in the next `seconds` (polled: a receive that times out would
    cancel the socket's application)."""
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await socket.receive_nothing(timeout=0.05):
            continue
        messages.append(await socket.receive_json_from(timeout=1))
    return messages


async def until_speed(socket: WebsocketCommunicator) -> tuple[list[dict], dict]:
    """The messages before the next speed message, and that message."""
    before = []
    while (message := await socket.receive_json_from(timeout=15))["type"] != "speed":
        before.append(message)
    return before, message


def test_every_kitchen_screen_hears_the_figures_once_when_an_order_becomes_ready_without_asking(relay, speed_reads):
    order = create_order(status="cooking")

    async def body():
        sockets, snapshots = await open_screens("anna", "ben")
        reads_before = len(speed_reads)
        await database_sync_to_async(order_mark_ready)(number=order.number, changed_by="cook")
        heard = [await until_speed(socket) for socket in sockets]
        for socket in sockets:
            # Once, not once per screen (another kind of message, e.g. the bridge's "up", may still come).
            assert "speed" not in [message["type"] for message in await messages_within(socket, 0.5)]
            await socket.disconnect()
        return snapshots, heard, len(speed_reads) - reads_before

    snapshots, heard, reads = run(body)
    assert reads == 1  # read once by the bridge for both screens
    for snapshot, (before, pushed) in zip(snapshots, heard, strict=True):
        assert snapshot["speed"]["orders"] == 0
        # The ready ticket first, then the figures that count it.
        tickets = [m["order"] for m in before if m["type"] == "order" and m["order"]["order_number"] == order.number]
        assert tickets[-1]["status"] == "ready"
        assert pushed["speed"]["orders"] == 1 and set(pushed["speed"]) == set(snapshot["speed"])
    assert heard[0][1] == heard[1][1]


def test_an_item_mark_pushes_its_stations_figures_once_to_every_kitchen_screen(speed_reads):
    load_test_menu()
    pizza_and_cola = [{"sku": "margherita", "quantity": 1, "modifiers": ["medium"]}, {"sku": "cola", "quantity": 1}]
    order = create_order(status="cooking", items=pizza_and_cola)
    pizza = order.items.get(station="oven")

    async def body():
        sockets, snapshots = await open_screens("anna", "ben")
        reads_before = len(speed_reads)
        await sockets[0].send_json_to({"action": "prepare", "order_number": order.number, "item": pizza.id})
        heard = [await until_speed(socket) for socket in sockets]
        for socket in sockets:
            assert await socket.receive_nothing(timeout=0.5)
            await socket.disconnect()
        return snapshots, heard, len(speed_reads) - reads_before

    snapshots, heard, reads = run(body)
    assert reads == 1
    assert snapshots[0]["speed"]["stations"] == {}
    for before, pushed in heard:
        marked = [m for m in before if m["type"] == "order"]
        assert marked[-1]["order"]["items"][0]["prepared"]  # the ticket first, then its figures
        assert pushed["speed"]["stations"]["oven"]["items"] == 1


def test_the_bridge_pushes_the_figures_every_30_seconds_and_gathers_a_burst_of_changes(speed_reads):
    async def body():
        sockets, _ = await open_screens("anna")
        [socket] = sockets
        loop = asyncio.get_running_loop()
        bridge = DisplayBridge(loop)  # not started: its steps are run by hand
        reads_before = len(speed_reads)

        await loop.run_in_executor(None, bridge.follow_speed)  # nothing changed, and not 30 s yet
        quiet = await socket.receive_nothing(timeout=0.3)

        bridge.speed_due = True
        bridge.pending.append(object())  # a change at hand, more to come: the figures wait for them
        await loop.run_in_executor(None, bridge.follow_speed)
        gathering = await socket.receive_nothing(timeout=0.3)
        bridge.pending.clear()
        await loop.run_in_executor(None, bridge.follow_speed)  # the burst is sent: its figures follow
        after_burst = await socket.receive_json_from(timeout=5)

        bridge.last_speed = time.monotonic() - SPEED_EVERY  # 30 s later, nothing changed
        await loop.run_in_executor(None, bridge.follow_speed)
        slid = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return quiet, gathering, after_burst, slid, len(speed_reads) - reads_before

    quiet, gathering, after_burst, slid, reads = run(body)
    assert quiet and gathering
    assert after_burst["type"] == slid["type"] == "speed"
    assert reads == 2


def test_a_costly_read_of_the_figures_is_not_made_again_until_ten_times_its_cost_has_passed(speed_reads):
    """Under a heavy load the figures took most of the bridge's time (read every second while
    deliveries came): a read that took a second waits nine more before the next."""

    async def body():
        sockets, _ = await open_screens("anna")
        loop = asyncio.get_running_loop()
        bridge = DisplayBridge(loop)  # not started: its steps are run by hand
        reads_before = len(speed_reads)
        bridge.speed_cost, bridge.speed_due = 1.0, True
        bridge.last_speed = time.monotonic() - 2 * SPEED_GATHER
        await loop.run_in_executor(None, bridge.follow_speed)  # due, but 2 s after a read of 1 s: waits
        waited = await sockets[0].receive_nothing(timeout=0.3)
        bridge.last_speed = time.monotonic() - SPEED_PACE * 1.0
        await loop.run_in_executor(None, bridge.follow_speed)
        pushed = await sockets[0].receive_json_from(timeout=5)
        await sockets[0].disconnect()
        return waited, pushed, len(speed_reads) - reads_before, bridge.speed_cost

    waited, pushed, reads, cost = run(body)
    assert waited and pushed["type"] == "speed" and reads == 1
    assert 0 < cost < 1.0  # the cost of this read, now the pace of the next
