"""WebSockets of the kitchen display (`/ws/kitchen/`, staff), of order tracking (`/ws/orders/<number>/`),
of the customer board (`/ws/board/`) and of the guests' ordering page (`/ws/menu/`): who may
connect, which groups they join, and the cooks' actions handed to the order services. What they are
shown is kitchen/screens.py's.

Updates reach them from this process's bridge (kitchen/bridge.py) through the channel layer's
groups; every order's message carries a `version` (an order_status_log id) so a client can drop a
stale or repeated one (the ordering page's carries the menu's version).
"""

import asyncio
import json
import re
import threading
import time
from collections import Counter
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from kitchen.bridge import bridges
from kitchen.screens import (
    BOARD_GROUP,
    KITCHEN_GROUP,
    MENU_GROUP,
    TRACK_GROUP,
    board_order_types,
    board_snapshot,
    kitchen_speed,
    menu_snapshot,
    order_group,
    order_views,
    screen_snapshot,
)
from orders.models import Order
from orders.services import (
    order_item_prepare,
    order_item_unprepare,
    order_mark_completed,
    order_mark_ready,
    order_recall,
    order_start_cooking,
)
from restaurant.api import ApplicationError
from restaurant.logging import service_logger
from restaurant.roles import EXPO_WATCHERS, KITCHEN_STAFF, has_role, session_has_role

log = service_logger()

BAD_REQUEST = 4400
FORBIDDEN = 4403
NOT_FOUND = 4404
TOO_MANY = 4429
ACCESS_CHECK_EVERY = 2.0  # seconds: a revoked login's kitchen socket is closed within this, plus a query
# What an order number can be: plain characters, up to the column's length (orders.Order.number).
ORDER_NUMBER = re.compile(rf"[A-Za-z0-9_-]{{1,{Order._meta.get_field('number').max_length}}}")
# What a cook does from the screen, each through the order's own transition (orders/services.py).
ACTIONS = {
    "start": order_start_cooking,
    "ready": order_mark_ready,
    "bump": order_mark_completed,
    "recall": order_recall,
}
# A station marks one item of an order: {"action": ..., "order_number": ..., "item": <order item id>}.
ITEM_ACTIONS = {"prepare": order_item_prepare, "unprepare": order_item_unprepare}


class ScreenConsumer(AsyncJsonWebsocketConsumer):
    """What every live screen's socket shares: at most SOCKETS_PER_CLIENT of them per client address,
    joining its groups (the one place that starts this process's bridge), leaving them, frames
    read without ever failing the socket, the page's heartbeat and an order's update."""

    joined: tuple[str, ...] = ()
    client: str | None = None

    async def websocket_connect(self, message) -> None:
        client = (self.scope.get("client") or [None])[0]
        if not sockets_per_client.take(client):
            await self.close(code=TOO_MANY)  # before the handshake is accepted: refused (HTTP 403)
            return
        self.client = client
        await super().websocket_connect(message)

    async def websocket_disconnect(self, message) -> None:
        try:
            await super().websocket_disconnect(message)
        finally:
            sockets_per_client.release(self.client)
            self.client = None

    async def __call__(self, scope, receive, send) -> None:
        # The client's share is given back however the socket ends: an exception that ends the
        # consumer gets no websocket.disconnect from daphne (a board snapshot over daphne's 1 MiB
        # message limit did, and after SOCKETS_PER_CLIENT of them the address was refused for good).
        try:
            await super().__call__(scope, receive, send)
        finally:
            sockets_per_client.release(self.client)
            self.client = None

    async def join(self, *groups: str) -> None:
        """Join `groups` once this process's bridge consumes: a snapshot sent next misses no update."""
        self.joined = groups
        await bridges.ensure()
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # Not the base class's decode, which fails the socket (1011, a stack trace in the log) on a
        # frame that is binary, not JSON, or nested past the parser's depth: such a frame is None.
        try:
            content = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):
            content = None
        if content is None:
            unreadable_frames.warn(type(self).__name__)
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("action") == "ping":  # the page's heartbeat
            await self.send_heartbeat()

    async def send_heartbeat(self) -> None:
        """A pong while this process's bridge relays updates; else `bridge` down, so the page's light
        shows that the screen is not being kept up to date (live.js)."""
        await self.send_json({"type": "pong"} if bridges.up else {"type": "bridge", "up": False})

    async def bridge_status(self, event) -> None:
        """The registry's watchdog: the bridge went down, or is back (a `resync` came before)."""
        await self.send_json({"type": "bridge", "up": event["up"]})

    async def order_update(self, event) -> None:
        await self.send_json({"type": "order", "order": event["order"], "version": event["version"]})


class KitchenConsumer(ScreenConsumer):
    """The kitchen display's socket: its tickets carry names and addresses, so it is open only while
    its login stands: every ACCESS_CHECK_EVERY s, and at every action, the session must still exist
    and its user still be active and in a role that may watch (act: KITCHEN_STAFF); else it is
    closed (4403) and sends nothing more."""

    watchers = KITCHEN_STAFF  # the roles that may connect; acting is checked at every action
    revoked = False
    access_watch: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accepted, then closed: a refused handshake reaches a browser as 1006, this close code does.
        await self.accept()
        if not await database_sync_to_async(has_role)(user, *self.watchers):
            await self.close(code=FORBIDDEN)
            return
        self.username = user.get_username()
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.access_watch = asyncio.create_task(self.watch_access())
        await self.join(KITCHEN_GROUP)
        await self.send_snapshot()

    async def login_stands(self, *roles: str) -> bool:
        return await database_sync_to_async(session_has_role)(self.session_key, self.scope.get("user"), *roles)

    async def watch_access(self) -> None:
        while not self.revoked:
            await asyncio.sleep(ACCESS_CHECK_EVERY)
            try:
                stands = await self.login_stands(*self.watchers)
            except DatabaseError:
                continue  # the database is away: asked again at the next check
            if not stands:
                await self.revoke()

    async def revoke(self) -> None:
        self.revoked = True
        await self.close(code=FORBIDDEN)

    async def send_json(self, content, close=False) -> None:
        if not self.revoked:  # a revoked login hears nothing more, whatever is still on its way
            await super().send_json(content, close=close)

    async def disconnect(self, code) -> None:
        if self.access_watch is not None:
            self.access_watch.cancel()
        await super().disconnect(code)

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(screen_snapshot)())

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict):
            await self.send_error(None, None, "invalid", {"message": ["send a JSON object"]})
            return
        action, number = content.get("action"), content.get("order_number")
        if action == "ping":  # the page's heartbeat: silence for 5 s shows the connection as lost
            await self.send_heartbeat()
            return
        if action == "speed":  # the last hour's figures on request (read only; the bridge also pushes them)
            await self.send_json({"type": "speed", "speed": await database_sync_to_async(kitchen_speed)()})
            return
        # Checked at every action, not only at connect: a cook taken off the Kitchen group an hour
        # ago must not bump orders from the socket they opened before.
        if not await self.login_stands(*KITCHEN_STAFF):
            errors = {"user": ["only Kitchen and Manager staff may act on orders"]}
            await self.send_error(action, number, "permission_denied", errors)
            await self.revoke()
            return
        errors = {}
        if not isinstance(action, str) or action not in {**ACTIONS, **ITEM_ACTIONS}:
            errors["action"] = [f"one of {', '.join([*ACTIONS, *ITEM_ACTIONS])}"]
        if not isinstance(number, str) or not ORDER_NUMBER.fullmatch(number):
            errors["order_number"] = ["an order number is required (letters, digits, _ and -; at most 32)"]
        item, on_item = content.get("item"), isinstance(action, str) and action in ITEM_ACTIONS
        if on_item and (not isinstance(item, int) or isinstance(item, bool) or not 0 < item < 2**63):
            errors["item"] = ["an order item id is required"]
        if errors:
            await self.send_error(action, number, "invalid", errors)
            return
        call = partial(ITEM_ACTIONS[action], item_id=item) if on_item else ACTIONS[action]
        try:
            await database_sync_to_async(call)(number=number, changed_by=self.username)
        except ApplicationError as exc:
            await self.send_error(action, number, exc.code, exc.errors)
            return
        # A no-op (the order already was where the action leads: a double tap, a worker first) is done too.
        done = {"type": "done", "action": action, "order_number": number}
        await self.send_json({**done, "item": item} if on_item else done)

    async def send_error(self, action: Any, number: Any, code: str, errors: dict[str, list[str]]) -> None:
        """The error answer, echoing the action and order number when they were strings."""
        await self.send_json(
            {
                "type": "error",
                "action": action if isinstance(action, str) else None,
                "order_number": number if isinstance(number, str) else None,
                "code": code,
                "errors": errors,
            }
        )

    async def menu_update(self, event) -> None:
        await self.send_json({"type": "menu", "menu": event["menu"]})

    async def speed_update(self, event) -> None:
        await self.send_json({"type": "speed", "speed": event["speed"]})

    async def pause_update(self, event) -> None:
        await self.send_json({"type": "pause", "pause": event["pause"]})

    async def resync(self, event) -> None:
        await self.send_snapshot()


class ExpoConsumer(KitchenConsumer):
    """The expo screen's socket: the kitchen display's tickets and actions; Front of house may watch,
    and is refused (as anyone not Kitchen or Manager staff) on any action."""

    watchers = EXPO_WATCHERS


class OrderConsumer(ScreenConsumer):
    """One order's status for anyone holding its number: no name, address or items."""

    async def connect(self) -> None:
        self.number = self.scope["url_route"]["kwargs"]["number"]
        await self.accept()
        await self.join(order_group(self.number), TRACK_GROUP)
        if not await self.send_status():
            await self.close(code=NOT_FOUND)

    async def send_status(self) -> bool:
        views = await database_sync_to_async(order_views)(self.number)
        if views is None:
            return False
        public = views[1]
        await self.send_json({"type": "order", "order": public, "version": public["version"]})
        return True

    async def resync(self, event) -> None:
        await self.send_status()


class BoardConsumer(ScreenConsumer):
    """The customer board: the public status (no name, address or items) of every open order of
    the board's types (`?types=`, as its page's), a snapshot on connect, then every update."""

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        types = query.get("types")  # as the page reads it: `?types=` is an empty choice, not none
        self.order_types = board_order_types(types[-1] if types else None)
        await self.accept()
        if self.order_types is None:
            await self.close(code=BAD_REQUEST)
            return
        await self.join(BOARD_GROUP)
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        await self.send_json(await database_sync_to_async(board_snapshot)(order_types=self.order_types))

    async def order_update(self, event) -> None:
        # Every board hears every order; an order keeps its type, so the type decides once and for all.
        if event["order"]["order_type"] in self.order_types:
            await self.send_json({"type": "order", "order": event["order"], "version": event["version"]})

    async def resync(self, event) -> None:
        await self.send_snapshot()


class MenuConsumer(ScreenConsumer):
    """The guests' ordering page (/order/): the menu's version on connecting and at every change of
    the menu (an 86 in the admin, a load_menu), so the page reads GET /menu again and shows what is
    sold out while it is open. Public: it says nothing that GET /menu does not."""

    async def connect(self) -> None:
        await self.accept()
        await self.join(MENU_GROUP)
        await self.send_version()

    async def send_version(self) -> None:
        await self.send_json(await database_sync_to_async(menu_snapshot)())

    async def menu_update(self, event) -> None:
        # The kitchen's 86 list comes with it (one read for both groups): only its version goes out.
        await self.send_json({"type": "menu", "version": event["menu"]["version"]})

    async def resync(self, event) -> None:
        await self.send_version()


class SocketsPerClient:
    """How many screen sockets each client address holds in this process, up to
    settings.SOCKETS_PER_CLIENT (0: no limit); a socket without a client address is not counted."""

    def __init__(self) -> None:
        self.held: Counter[str] = Counter()
        self.lock = threading.Lock()

    def take(self, client: str | None) -> bool:
        limit = settings.SOCKETS_PER_CLIENT
        if client is None or not limit:
            return True
        with self.lock:
            if self.held[client] >= limit:
                return False
            self.held[client] += 1
            return True

    def release(self, client: str | None) -> None:
        if client is None:
            return
        with self.lock:
            self.held[client] -= 1
            if self.held[client] <= 0:
                del self.held[client]


class UnreadableFrames:
    """One WARNING line (no stack) for the frames no screen could read, at most every `every` s,
    counting those it did not log, so a client sending garbage cannot flood the log."""

    def __init__(self, every: float = 10.0) -> None:
        self.every, self.next_at, self.unlogged = every, 0.0, 0

    def warn(self, consumer: str) -> None:
        self.unlogged += 1
        if time.monotonic() < self.next_at:
            return
        count, self.unlogged, self.next_at = self.unlogged, 0, time.monotonic() + self.every
        log.warning(
            "socket_frame_unreadable",
            f"{count} socket frame(s) that are not a JSON text ignored",
            details={"consumer": consumer, "frames": count},
        )


sockets_per_client = SocketsPerClient()
unreadable_frames = UnreadableFrames()
