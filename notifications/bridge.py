"""Live fan-out to browsers: every display (daphne) process relays `notifications_fanout` to the
WebSocket clients it serves, through Channels' in-memory layer (no Redis: one process, one layer).

The bridge is a QueueConsumer (restaurant/consumer.py) on a thread of the display process, with
its own exclusive, auto-delete queue on the fanout (as an anonymous notification subscriber),
also bound to the order messages of `orders_topic`: a new order has no status update, yet the
boards must show it at once. For each message it reads the order with the ORM and hands it to
the event loop that serves the consumers: the in-memory layer belongs to that loop, so it is only
ever called on it.

Its lifecycle has one home, `bridges` (a `BridgeRegistry`): the first WebSocket client of a
process starts its bridge (`await bridges.ensure()`, called by every client of
kitchen/consumers.py); `bridges.stop()` stops it. There is one bridge per event loop
that serves clients: in a display process, one.
"""

import asyncio
import os
import re
import threading
import time
from typing import Any

import psycopg
from channels.layers import get_channel_layer
from django.db import DatabaseError, connection

from menu.selectors import sold_out
from notifications.subscriber import MalformedMessage, declare_subscriber_queue, parse_status_update
from orders.selectors import order_views
from orders.services import KITCHEN_NOTIFY_CHANNEL
from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.consumer import QueueConsumer
from restaurant.database import listener_params
from restaurant.lifecycle import StopFlag
from restaurant.logging import service_logger

# No fixed service: the bridge is a part of the display process, not a subscriber process of its
# own, so its lines say what that process's say (`kitchen-display`, set by restaurant/asgi.py).
log = service_logger()

KITCHEN_GROUP = "kitchen"  # every kitchen display: every update, as a full ticket
TRACK_GROUP = "track"  # every public tracking page (told to reload after a broker outage)
BOARD_GROUP = "board"  # every customer board: every update, as a public status (each board filters by type)
GROUP_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def order_group(number: str) -> str:
    return f"order.{number}"


class DisplayBridge(QueueConsumer):
    log = log
    label = "Display bridge"

    def __init__(self, loop: asyncio.AbstractEventLoop, *, prefetch: int = 10) -> None:
        super().__init__(stop=StopFlag(), prefetch=prefetch)
        self.loop = loop
        self.layer = get_channel_layer()
        self.queue: str | None = None
        self.consuming = threading.Event()
        self.connections = 0
        self.menu_listener: psycopg.Connection | None = None
        self.next_menu_listen = 0.0
        self.thread = threading.Thread(target=self._run, name="display-bridge", daemon=True)

    @property
    def client_name(self) -> str:
        return f"display-bridge:{os.getpid()}"

    def start(self) -> "DisplayBridge":
        self.thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self.run()
        except TopologyMismatch as exc:
            log.error("broker_topology_mismatch", f"Display bridge stopped: {exc}", exc_info=exc)
        finally:
            connection.close()

    # --- the consumer's hooks -----------------------------------------------------------------

    def declare(self) -> None:
        """An anonymous subscriber's queue, also bound to the order messages: a new order has a
        `received` log row but no status update (SPEC §4), and the boards must show it at once."""
        self.queue = declare_subscriber_queue(self.channel, None)
        with broker.topology_checked():
            self.channel.exchange_declare(broker.ORDERS_EXCHANGE, exchange_type="topic", durable=True)
            self.channel.queue_bind(self.queue, broker.ORDERS_EXCHANGE, routing_key="kitchen.#")

    def queues(self) -> list[str]:
        return [self.queue]

    def on_connected(self) -> None:
        log.info("broker_connected", f"Consuming {self.queue}", details={"queue": self.queue, "durable": False})
        if self.connections:
            # Updates published while we were away are lost to this queue: have every client
            # take a fresh snapshot instead.
            self.send(KITCHEN_GROUP, {"type": "resync"})
            self.send(TRACK_GROUP, {"type": "resync"})
            self.send(BOARD_GROUP, {"type": "resync"})
        self.connections += 1
        if self.menu_listener is None:
            # Before the first client's snapshot (ensure() waits for `consuming`): a menu change made
            # after it is then never missed. Not listening yet is retried by tick().
            try:
                self._listen_menu()
            except psycopg.Error as exc:
                log.error("display_menu_unreadable", "Menu changes not followed yet, retrying", exc_info=exc)
                self._close_menu_listener()
        self.consuming.set()

    def disconnect(self) -> None:
        self.consuming.clear()
        self._close_menu_listener()
        super().disconnect()

    def tick(self) -> None:
        """What PostgreSQL tells the displays directly (LISTEN, polled at every step): `menu` (the menu
        tables' trigger, menu/migrations/0002) sends every kitchen display the sold-out (86) list
        again; `kitchen` (an item's prepared mark, orders/services.py) the ticket of its order.
        Listening again after the database was lost, each display takes a fresh snapshot instead:
        what happened meanwhile was not heard."""
        try:
            if self.menu_listener is None:
                if self._listen_menu():
                    self.send(KITCHEN_GROUP, {"type": "resync"})
                return
            heard: dict[str, set[str]] = {}
            for notify in self.menu_listener.notifies(timeout=0):
                heard.setdefault(notify.channel, set()).add(notify.payload)
            if "menu" in heard:
                self.send(KITCHEN_GROUP, {"type": "menu.update", "menu": sold_out()})
            for number in heard.get(KITCHEN_NOTIFY_CHANNEL, ()):
                if (views := order_views(number)) is not None:
                    ticket = views[0]
                    self.send(KITCHEN_GROUP, {"type": "order.update", "order": ticket, "version": ticket["version"]})
        except (DatabaseError, psycopg.Error) as exc:
            log.error("display_listen_failed", "Menu changes and item marks not followed, retrying", exc_info=exc)
            self._close_menu_listener()
        finally:
            connection.close()  # back to the pool (or closed), as after every order read

    def _listen_menu(self) -> bool:
        """LISTEN to the menu's and the items' channels, tried at most every 2 s; True once listening."""
        if time.monotonic() < self.next_menu_listen:
            return False
        self.next_menu_listen = time.monotonic() + 2.0
        self.menu_listener = psycopg.connect(**listener_params(), autocommit=True)
        self.menu_listener.execute("LISTEN menu")
        self.menu_listener.execute(f"LISTEN {KITCHEN_NOTIFY_CHANNEL}")
        return True

    def _close_menu_listener(self) -> None:
        if self.menu_listener is not None:
            try:
                self.menu_listener.close()
            except psycopg.Error:
                pass
        self.menu_listener = None

    def handle(self, delivery: Delivery) -> None:
        tag = delivery.method.delivery_tag
        try:
            if delivery.method.exchange == broker.ORDERS_EXCHANGE:
                number = parse_order_number(delivery.body)
            else:
                number = parse_status_update(delivery.body)["order_number"]
        except MalformedMessage:
            self.channel.basic_reject(tag, requeue=False)  # the subscriber logs these; browsers ignore them
            return
        if not GROUP_SAFE.fullmatch(number):
            self.channel.basic_reject(tag, requeue=False)
            return
        try:
            views = order_views(number)
        except DatabaseError as exc:
            log.error("display_order_unreadable", f"Order {number} unreadable, retrying", exc_info=exc)
            self.channel.basic_nack(tag, requeue=True)
            self.sleep(1.0)  # not a hot loop while the database is down
            return
        finally:
            connection.close()  # back to the pool (or closed): the thread holds none while it waits
        if views is not None:
            ticket, public = views
            self.send(KITCHEN_GROUP, {"type": "order.update", "order": ticket, "version": ticket["version"]})
            self.send(order_group(number), {"type": "order.update", "order": public, "version": public["version"]})
            self.send(BOARD_GROUP, {"type": "order.update", "order": public, "version": public["version"]})
        self.channel.basic_ack(tag)

    def send(self, group: str, message: dict[str, Any]) -> None:
        """group_send on the consumers' loop, from this thread."""
        coroutine = self.layer.group_send(group, message)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        except RuntimeError:  # the loop is closed: the server is gone, so is our job
            coroutine.close()  # never scheduled: close it rather than leave it un-awaited
            self.stop.set()
            return
        try:
            future.result(timeout=5)
        except Exception as exc:
            log.error("display_send_failed", f"Could not pass an update to {group}", exc_info=exc)


def parse_order_number(body: bytes) -> str:
    """The `order_number` of an order message (SPEC §5)."""
    try:
        number = broker.json_object(body).get("order_number")
    except ValueError as exc:
        raise MalformedMessage(str(exc)) from None
    if not isinstance(number, str):
        raise MalformedMessage(f"invalid order_number: {number!r}")
    return number


class BridgeRegistry:
    """The display bridge of this process: started by its first WebSocket client, replaced when a
    new event loop serves the clients (a test's) or its thread has died."""

    def __init__(self) -> None:
        self._bridge: DisplayBridge | None = None
        self._lock = threading.Lock()

    async def ensure(self, *, wait: float = 3.0) -> DisplayBridge:
        """The running loop's bridge, started on first use; waits (up to `wait` s) until it
        consumes, so a snapshot taken next misses no update."""
        loop = asyncio.get_running_loop()
        with self._lock:
            bridge = self._bridge
            if bridge is None or bridge.loop is not loop or not bridge.thread.is_alive():
                if bridge is not None:
                    bridge.stop.set()
                bridge = self._bridge = DisplayBridge(loop).start()
        deadline = time.monotonic() + wait
        while not bridge.consuming.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return bridge

    def stop(self) -> None:
        with self._lock:
            bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge.close()


# The one registry of this process: kitchen/consumers.py calls `bridges.ensure()` for every new client.
bridges = BridgeRegistry()
