"""The display bridge: how every change reaches the live screens of one display (daphne) process,
through Channels' in-memory layer (no Redis: one process, one layer).

Three kinds of change come in, each the way its writer sends it (docs/architecture.md says
why two of them are not broker messages):

- an order's status, and a new order: a status update on `notifications_fanout`, or an order
  message of `orders_topic`, as the outbox relay publishes them (`handle`);
- an item's mark: `NOTIFY kitchen` with the order's number (orders/services.py, at commit; `tick`);
- the 86 list, and the menu's version for the guests' ordering pages: `NOTIFY menu` (the menu
  tables' trigger, menu/migrations/0002; `tick`);
- a Manager's pause of new ASAP orders: `NOTIFY asap_pause` (orders/pause.py, at commit; `tick`).

All of them go out one way, `publish`: a read of kitchen/screens.py that names each group and
what it is sent (an order is read once for all its groups), then a `group_send` per group. A
change that moves the speed figures has them pushed once, for every kitchen screen of the process,
at the next step; and every 30 s, as the last hour slides.

The bridge is a QueueConsumer (restaurant/consumer.py) on a thread of the display process, with
its own exclusive, auto-delete queue on the fanout (as an anonymous notification subscriber),
also bound to the order messages. The in-memory layer belongs to the event loop that serves the
consumers, so the bridge only ever calls it on that loop.

Its lifecycle has one home, `bridges` (a `BridgeRegistry`): the first WebSocket client of a
process starts its bridge (kitchen/consumers.py: `ScreenConsumer.join`); `bridges.stop()` stops
it. There is one bridge per event loop that serves clients: in a display process, one.

A bridge that stops must be seen and must catch up. No delivery and no step ends its thread (an
error is logged, the delivery rejected); a lost broker is reconnected by the loop itself. The
registry's watchdog, a task on the consumers' loop, looks at the bridge every WATCH_EVERY: while
it is not `up` (not consuming, its thread dead, or stuck in a step) every screen is told so
(`bridge.status`, and its pings are answered `{"type": "bridge", "up": false}` instead of a
pong), and a dead thread is replaced with capped back-off. A bridge back after a gap (reconnected,
or a replacement) has every screen take a fresh snapshot (`resync`).
"""

import asyncio
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
from channels.layers import get_channel_layer
from django.db import DatabaseError, connection
from pika.exceptions import AMQPError

from kitchen.screens import (
    GROUP_SAFE,
    MENU_FOLLOWERS,
    Update,
    bridge_status,
    changes_speed,
    menu_update,
    order_updates,
    pause_update,
    resync,
    speed_update,
)
from notifications.subscriber import MalformedMessage, declare_subscriber_queue, parse_status_update
from orders.messages import EVERY_HELD_ORDER, EVERY_ORDER_MESSAGE
from orders.pause import PAUSE_NOTIFY_CHANNEL
from orders.services import KITCHEN_NOTIFY_CHANNEL
from restaurant import broker
from restaurant.broker import Delivery, TopologyMismatch
from restaurant.consumer import QueueConsumer
from restaurant.database import listener_params
from restaurant.lifecycle import Backoff, StopFlag
from restaurant.logging import service_logger

# No fixed service: the bridge is a part of the display process, not a subscriber process of its
# own, so its lines say what that process's say (`kitchen-display`, set by restaurant/asgi.py).
log = service_logger()

SPEED_EVERY = 30.0  # s: the last hour's figures slide with the clock, even when no order moves them
# s the figures of a change may wait while more deliveries are at hand: a burst of ready orders
# costs one read of the figures, not one each.
SPEED_GATHER = 1.0
# A read of the figures waits at least this many times as long as the last one took: they are read
# from the last hour's orders, which under a heavy load took 90 % of the bridge's time (the soak:
# ~8,000 orders ready in the hour, read every second), and the deliveries waited behind them.
SPEED_PACE = 9.0
WATCH_EVERY = 0.5  # s between the watchdog's looks at the bridge: the screens' light goes red this late
# s without a step (tick) after which a consuming bridge counts as stuck (down: shown, not replaced,
# since a new thread would hang on whatever holds this one)
STALL_AFTER = 20.0
ERROR_LOG_EVERY = 10.0  # s: a step that keeps failing logs once in this long, not at every step


class DisplayBridge(QueueConsumer):
    log = log
    label = "Display bridge"

    def __init__(self, loop: asyncio.AbstractEventLoop, *, prefetch: int = 10, replacing: bool = False) -> None:
        super().__init__(stop=StopFlag(), prefetch=prefetch)
        self.loop = loop
        self.layer = get_channel_layer()
        self.queue: str | None = None
        self.consuming = threading.Event()
        # Connections made: from the second on, the screens resync. A bridge `replacing` a dead one
        # counts its predecessor's, since what was published meanwhile was missed just the same.
        self.connections = 1 if replacing else 0
        self.last_step = time.monotonic()
        self.next_error_log = 0.0
        self.menu_listener: psycopg.Connection | None = None
        self.next_menu_listen = 0.0
        self.speed_due = False  # a change moved the speed figures since they were last pushed
        self.last_speed = time.monotonic()  # the first client's snapshot carries the figures
        self.speed_cost = 0.0  # s the last read and push of the figures took
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

    @property
    def up(self) -> bool:
        """Relaying updates: its thread alive, consuming, and not stuck in a step."""
        fresh = time.monotonic() - self.last_step < STALL_AFTER
        return self.thread.is_alive() and self.consuming.is_set() and fresh

    def _run(self) -> None:
        try:
            self.run()
        except TopologyMismatch as exc:
            log.error("broker_topology_mismatch", f"Display bridge stopped: {exc}", exc_info=exc)
        except Exception as exc:  # a bug: the registry's watchdog starts another bridge
            log.error("display_bridge_failed", "Display bridge stopped by an error", exc_info=exc)
        finally:
            self.consuming.clear()
            try:
                self.disconnect()
            finally:
                connection.close()

    # --- the consumer's hooks -----------------------------------------------------------------

    def declare(self) -> None:
        """An anonymous subscriber's queue, also bound to the order messages: a new order has a
        `received` log row but no status update (SPEC §4), and the boards must show it at once (an order
        for later: its announcement, and its kitchen message at its fire time)."""
        self.queue = declare_subscriber_queue(self.channel, None)
        with broker.topology_checked():
            self.channel.exchange_declare(broker.ORDERS_EXCHANGE, exchange_type="topic", durable=True)
            self.channel.queue_bind(self.queue, broker.ORDERS_EXCHANGE, routing_key=EVERY_ORDER_MESSAGE)
            self.channel.queue_bind(self.queue, broker.ORDERS_EXCHANGE, routing_key=EVERY_HELD_ORDER)

    def queues(self) -> list[str]:
        return [self.queue]

    def on_connected(self) -> None:
        log.info("broker_connected", f"Consuming {self.queue}", details={"queue": self.queue, "durable": False})
        if self.connections:
            # Updates published while we were away are lost to this queue: have every client
            # take a fresh snapshot instead.
            self.publish(resync)
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
        self.last_step = time.monotonic()
        try:
            self.follow_database()
            self.follow_speed()
        except Exception as exc:  # not a reason to stop relaying the broker's updates
            if time.monotonic() >= self.next_error_log:
                self.next_error_log = time.monotonic() + ERROR_LOG_EVERY
                log.error("display_step_failed", "A step of the display bridge failed", exc_info=exc)

    def follow_database(self) -> None:
        """What PostgreSQL tells the displays directly (LISTEN, polled at every step): `menu` (the menu
        tables' trigger, menu/migrations/0002) sends every kitchen display the sold-out (86) list
        again, and every ordering page the menu's version; `kitchen` (an item's prepared mark,
        orders/services.py) the ticket of its order; `asap_pause` (orders/pause.py) every kitchen
        display the ASAP pause. Listening again after the database was lost,
        each of those screens takes a fresh snapshot instead: what happened meanwhile was not heard."""
        try:
            if self.menu_listener is None:
                if self._listen_menu():
                    self.publish(partial(resync, MENU_FOLLOWERS))
                return
            heard: dict[str, set[str]] = {}
            for notify in self.menu_listener.notifies(timeout=0):
                heard.setdefault(notify.channel, set()).add(notify.payload)
            if "menu" in heard:
                self.publish(menu_update)
            if PAUSE_NOTIFY_CHANNEL in heard:
                self.publish(pause_update)
            for number in heard.get(KITCHEN_NOTIFY_CHANNEL, ()):
                # A mark is not public (the public status shows no items); it moves its station's figures.
                self.publish_order(number, public=False, speed=True)
        except (DatabaseError, psycopg.Error) as exc:
            log.error("display_listen_failed", "Menu changes and item marks not followed, retrying", exc_info=exc)
            self._close_menu_listener()

    def follow_speed(self) -> None:
        """Push the speed figures to every kitchen screen once the changes that moved them are sent
        (at most SPEED_GATHER late while more deliveries are at hand), and every SPEED_EVERY."""
        waited = time.monotonic() - self.last_speed
        if waited < SPEED_EVERY and not (self.speed_due and (not self.pending or waited >= SPEED_GATHER)):
            return
        if waited < SPEED_PACE * self.speed_cost:
            return  # a costly read is not made again at once: the bridge relays deliveries meanwhile
        self.speed_due, self.last_speed = False, time.monotonic()
        try:
            self.publish(speed_update)
        except DatabaseError as exc:  # the next change, or the next SPEED_EVERY, tries again
            log.error("display_speed_unreadable", "Speed figures not read", exc_info=exc)
        self.speed_cost = time.monotonic() - self.last_speed

    def _listen_menu(self) -> bool:
        """LISTEN to the menu's, the items' and the pause's channels, tried at most every 2 s; True once listening."""
        if time.monotonic() < self.next_menu_listen:
            return False
        self.next_menu_listen = time.monotonic() + 2.0
        self.menu_listener = psycopg.connect(**listener_params(), autocommit=True)
        self.menu_listener.execute("LISTEN menu")
        self.menu_listener.execute(f"LISTEN {KITCHEN_NOTIFY_CHANNEL}")
        self.menu_listener.execute(f"LISTEN {PAUSE_NOTIFY_CHANNEL}")
        return True

    def _close_menu_listener(self) -> None:
        if self.menu_listener is not None:
            try:
                self.menu_listener.close()
            except psycopg.Error:
                pass
        self.menu_listener = None

    def handle(self, delivery: Delivery) -> None:
        """`relay` the delivery; whatever it raises but a broker error (the loop reconnects for
        those) is logged and the delivery rejected: no message stops the bridge (a poison body
        nested 5000 deep raises RecursionError)."""
        try:
            self.relay(delivery)
        except (AMQPError, OSError):
            raise
        except Exception as exc:
            method = delivery.method
            log.error(
                "display_delivery_failed",
                "A delivery the display bridge could not handle was rejected",
                details={"exchange": method.exchange, "routing_key": method.routing_key},
                exc_info=exc,
            )
            self.channel.basic_reject(method.delivery_tag, requeue=False)

    def relay(self, delivery: Delivery) -> None:
        tag = delivery.method.delivery_tag
        try:
            if delivery.method.exchange == broker.ORDERS_EXCHANGE:
                number, speed = parse_order_number(delivery.body), False
            else:
                update = parse_status_update(delivery.body)
                number, speed = update["order_number"], changes_speed(update["old_status"], update["new_status"])
        except MalformedMessage:
            self.channel.basic_reject(tag, requeue=False)  # the subscriber logs these; browsers ignore them
            return
        if not GROUP_SAFE.fullmatch(number):
            self.channel.basic_reject(tag, requeue=False)
            return
        try:
            self.publish_order(number, speed=speed)
        except DatabaseError as exc:
            log.error("display_order_unreadable", f"Order {number} unreadable, retrying", exc_info=exc)
            self.channel.basic_nack(tag, requeue=True)
            self.sleep(1.0)  # not a hot loop while the database is down
            return
        self.channel.basic_ack(tag)

    # --- the one way out --------------------------------------------------------------------

    def publish_order(self, number: str, *, public: bool = True, speed: bool = False) -> None:
        """Every screen of `number` its view of the order, read once; `speed`: the change moves the
        speed figures, pushed at the next step."""
        self.publish(partial(order_updates, number, public=public))
        self.speed_due = self.speed_due or speed

    def publish(self, read: Callable[[], list[Update]]) -> None:
        """Every update leaves this way: `read` (kitchen/screens.py) names the groups and their
        messages; the database connection goes back to the pool (or is closed) before the sends
        wait on the consumers' loop, so the thread holds none while it waits."""
        try:
            updates = read()
        finally:
            connection.close()
        for group, message in updates:
            self.send(group, message)

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
    new event loop serves the clients (a test's) or its thread has died (at once by the next
    client, or by the watchdog)."""

    def __init__(self) -> None:
        self._bridge: DisplayBridge | None = None
        self._lock = threading.Lock()
        self._watchdog: asyncio.Task | None = None

    @property
    def up(self) -> bool:
        """This process's bridge relays updates (the sockets answer pings with a pong only then)."""
        bridge = self._bridge
        return bridge is not None and bridge.up

    async def ensure(self, *, wait: float = 3.0) -> DisplayBridge:
        """The running loop's bridge, started on first use, and its watchdog; waits (up to `wait` s)
        until it consumes, so a snapshot taken next misses no update."""
        loop = asyncio.get_running_loop()
        with self._lock:
            bridge = self._bridge
            if bridge is None or bridge.loop is not loop or not bridge.thread.is_alive():
                bridge = self._replace(loop)
        watchdog = self._watchdog
        if watchdog is None or watchdog.done() or watchdog.get_loop() is not loop:
            self._watchdog = loop.create_task(self._watch(loop))
        deadline = time.monotonic() + wait
        while not bridge.consuming.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return bridge

    def _replace(self, loop: asyncio.AbstractEventLoop) -> DisplayBridge:
        """A new bridge for `loop` (under the lock); replacing a dead one of the same loop, it has the
        screens resync once it consumes."""
        old = self._bridge
        if old is not None:
            old.stop.set()
        replacing = old is not None and old.loop is loop
        self._bridge = DisplayBridge(loop, replacing=replacing).start()
        return self._bridge

    async def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every WATCH_EVERY, while `loop`'s bridge is this registry's: tell the screens when it goes
        down and comes back, and replace a dead one (at once, then with capped back-off)."""
        backoff, was_up, restart_at = Backoff(), True, 0.0
        while True:
            await asyncio.sleep(WATCH_EVERY)
            bridge = self._bridge
            if bridge is None or bridge.loop is not loop:
                return  # stopped, or a new loop serves the clients (and has a watchdog of its own)
            try:
                up = bridge.up
                if up != was_up:
                    was_up = up
                    if up:
                        log.info("display_bridge_up", "Display bridge relaying updates again")
                    else:
                        log.error("display_bridge_down", "Display bridge not relaying updates: screens told")
                    for group, message in bridge_status(up):
                        await bridge.layer.group_send(group, message)
                if up:
                    backoff.reset()
                elif not bridge.thread.is_alive() and time.monotonic() >= restart_at:
                    restart_at = time.monotonic() + backoff.next_delay()
                    with self._lock:
                        if self._bridge is bridge:
                            self._replace(loop)
                    log.info("display_bridge_restarted", "Display bridge started again")
            except Exception as exc:  # the watchdog must outlive whatever it watches
                log.error("display_watchdog_failed", "Display bridge watchdog step failed", exc_info=exc)

    def stop(self) -> None:
        with self._lock:
            bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge.close()


# The one registry of this process: kitchen/consumers.py's `ScreenConsumer.join` calls `bridges.ensure()`.
bridges = BridgeRegistry()
