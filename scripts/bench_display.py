"""The kitchen display phase of scripts/bench.py: the 201 of POST /orders to the ticket on every
screen of a kitchen, i.e. a station screen per station of the demo menu and one expo, connected at
once to one display process while menu orders are posted at a steady rate.

A station screen opens /ws/kitchen/?station=<code> as its page does; the socket sends it every
ticket and the page shows those with an item of its station (or a free item). So a station
screen is expected to get the orders with an item of its station, the expo every order.
"""

import asyncio
import json
import secrets
import threading
import time

import requests
from bench_phases import ORDER_TYPES
from bench_stack import Side, fresh_run, manage, percentile
from websockets.asyncio.client import connect

MENU = "menu/demo_menu.json"


def menu_orders(side: Side) -> list[tuple[dict, set[str]]]:
    """Order bodies of menu items by sku, each with one item of two neighbouring stations (so every
    station is in half of the orders), and the stations each body has items for."""
    menu = json.loads((side.root / MENU).read_text())
    stations = [station["code"] for station in menu["stations"]]
    item_of: dict[str, dict] = {}  # station: its first item, with the first options its groups need
    for category in menu["categories"]:
        for item in category["items"]:
            if item.get("station") in stations and item["station"] not in item_of:
                groups = item.get("modifier_groups", [])
                modifiers = [option["code"] for group in groups for option in group["options"][: group.get("min", 0)]]
                item_of[item["station"]] = {"sku": item["sku"], "quantity": 1, "modifiers": modifiers}
    orders = []
    for k, station in enumerate(stations):
        pair = {station, stations[(k + 1) % len(stations)]}
        body = {"customer_name": "Jane Doe", "order_type": ORDER_TYPES[k % len(ORDER_TYPES)]}
        body["items"] = [item_of[code] for code in sorted(pair)]
        if body["order_type"] == "dine_in":
            body["table_number"] = 12
        if body["order_type"] == "delivery":
            body["delivery_address"] = "12 Baker Street, London"
        orders.append((body, pair))
    return orders


def create_superuser(side: Side, env: dict[str, str]) -> tuple[str, str]:
    """A superuser with a random password, for the display's login; its username and password."""
    username, password = "bench_display", secrets.token_urlsafe(16)
    command = ["createsuperuser", "--noinput", "--username", username, "--email=bench@example.com"]
    manage(side, {**env, "DJANGO_SUPERUSER_PASSWORD": password}, *command)
    return username, password


def display_login(url: str, username: str, password: str) -> str:
    """The sessionid of a login through the display's /admin/login/ (GET for the csrftoken, then POST)."""
    with requests.Session() as session:
        session.get(f"{url}/admin/login/", timeout=10).raise_for_status()
        form = {"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
        answer = session.post(f"{url}/admin/login/?next=/admin/", data=form, allow_redirects=False, timeout=10)
        if answer.status_code != 302 or "sessionid" not in session.cookies:
            raise RuntimeError(f"login to {url}/admin/login/ failed: {answer.status_code}")
        return session.cookies["sessionid"]


def post_orders(url: str, bodies: list[dict], rate: float, duration: int, posted: dict, failed: list, answer_ms: list):
    """POST /orders at `rate` per second for `duration` s from 8 threads with keep-alive sessions:
    order i (body i mod len(bodies)) is sent at start + i / rate (at once if late). Fills `posted`
    (order number: (monotonic time of its 201, its body's index)), `failed` (other status codes)
    and `answer_ms` (each POST's duration); returns the seconds from the start to the last answer."""
    total = int(rate * duration)
    next_index = iter(range(total))
    lock = threading.Lock()
    start = time.monotonic()
    last_answer = [start]

    def poster() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                time.sleep(max(0.0, start + i / rate - time.monotonic()))
                sent = time.monotonic()
                try:
                    answer = session.post(f"{url}/orders", json=bodies[i % len(bodies)], timeout=10)
                except requests.RequestException:
                    failed.append(0)
                    continue
                now = time.monotonic()
                answer_ms.append(1000 * (now - sent))
                if answer.status_code == 201:
                    posted[answer.json()["order_number"]] = (now, i % len(bodies))
                else:
                    failed.append(answer.status_code)
                last_answer[0] = max(last_answer[0], now)

    threads = [threading.Thread(target=poster) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return last_answer[0] - start


async def read_tickets(ws, seen: dict[str, float]) -> None:
    """Records when the first {"type": "order"} message naming each order arrives."""
    async for frame in ws:
        message = json.loads(frame)
        if message.get("type") == "order":
            seen.setdefault(message["order"]["order_number"], time.monotonic())


async def watch_screens(display_url: str, sessionid: str, screens: dict, url: str, orders: list, args) -> dict:
    """Connects every screen (name: (socket path, its stations or None for the expo)), takes their
    snapshots, then posts orders (a thread) while each screen's tickets are recorded; waits up to
    10 s after the last POST for the tickets still missing."""
    headers = {"Cookie": f"sessionid={sessionid}"}
    ws_base = display_url.replace("http://", "ws://")
    sockets = {}
    for name, (path, _) in screens.items():
        ws = await connect(f"{ws_base}{path}", additional_headers=headers, origin=display_url, proxy=None)
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if snapshot.get("type") != "snapshot":
            raise RuntimeError(f"{name}: expected a snapshot first, got {str(snapshot)[:200]}")
        sockets[name] = ws
    posted, failed, answer_ms = {}, [], []
    seen = {name: {} for name in screens}
    readers = [asyncio.create_task(read_tickets(ws, seen[name])) for name, ws in sockets.items()]
    bodies = [body for body, _ in orders]
    span = await asyncio.to_thread(post_orders, url, bodies, args.ticket_rate, args.duration, posted, failed, answer_ms)

    def expected(name: str) -> list[str]:
        stations = screens[name][1]
        return [number for number, (_, i) in posted.items() if stations is None or stations & orders[i][1]]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(set(expected(name)) - set(seen[name]) for name in screens):
        await asyncio.sleep(0.1)
    for reader in readers:
        reader.cancel()
    for ws in sockets.values():
        await ws.close()
    per_screen = {}
    for name in screens:
        numbers = expected(name)
        latencies = sorted(1000 * (seen[name][n] - posted[n][0]) for n in numbers if n in seen[name])
        per_screen[name] = {
            "expected": len(numbers),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "max_ms": latencies[-1] if latencies else 0.0,
            "missing": len(numbers) - len(latencies),
        }
    answer_ms.sort()
    return {
        "rate": args.ticket_rate,
        "posted_per_s": len(posted) / span if span else 0.0,
        "orders": len(posted),
        "failed": len(failed),
        "post_p50_ms": percentile(answer_ms, 50),
        "post_p95_ms": percentile(answer_ms, 95),
        "screens": per_screen,
    }


def run_display(side: Side, args) -> dict:
    """Web + relay + the Procfile's display process, the demo menu loaded, a superuser logged in on
    a screen per station and the expo while menu orders are posted at --ticket-rate."""
    with fresh_run(side, args) as run:
        manage(side, run.env, "load_menu", MENU)
        orders = menu_orders(side)
        run.start_relay()
        url, _ = run.start_web(sample=orders[0][0])
        display_url, _ = run.start_display()
        sessionid = display_login(display_url, *create_superuser(side, run.env))
        stations = sorted(set().union(*(pair for _, pair in orders)))
        screens = {f"station {code}": (f"/ws/kitchen/?station={code}", {code}) for code in stations}
        screens["expo"] = ("/ws/kitchen/expo/", None)
        result = asyncio.run(watch_screens(display_url, sessionid, screens, url, orders, args))
        run.check_alive()
        run.failed = result["failed"] > 0 or any(screen["missing"] for screen in result["screens"].values())
        return result
