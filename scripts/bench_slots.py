"""The slots phase of scripts/bench.py (issue 19): the current code's intake with kitchen capacity
slots on against off, side by side, on the same menu orders.

- **off**: the demo menu as it is (no station has a capacity): each order is the one intake statement.
- **on**: the same menu with a `"kitchen"` (open all day, UTC, 15-minute slots) and every station a
  `capacity_per_slot` of SLOT_CAPACITY, which no phase's orders reach: each order also books its
  units in its slot, in its own transaction (orders/services.py `_insert_with_reservation`), so what
  is measured is what the booking costs, never a refusal.

Both post the bodies of bench_display.menu_orders (menu items of two stations each, so every order
of the "on" side books two stations' units). After each phase the bookings are counted: the "on"
side must have booked every menu item's units (`slot_reservations` and `slot_loads` agreeing with
`order_items`), the "off" side none.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from bench_display import MENU, menu_orders
from bench_phases import empty_tables, load_phase, purge_kitchen_queues, run_wrk, wait_for_drain
from bench_stack import Side, connect, fresh_run, manage

# The most `load_menu` takes (menu/services.py); one phase books a few units per order, at most tens of thousands.
SLOT_CAPACITY = 100_000
CAPACITIES = ("off", "on")


def capacity_menu(menu: dict) -> dict:
    """`menu` with a kitchen open all day in UTC (15-minute slots) and every station SLOT_CAPACITY units per slot."""
    stations = [{**station, "capacity_per_slot": SLOT_CAPACITY} for station in menu["stations"]]
    return {**menu, "stations": stations, "kitchen": {"time_zone": "UTC", "slot_minutes": 15}}


def bookings(db: psycopg.Connection) -> dict:
    """What the orders of the phase booked: orders, the units their menu items ask for, the reservation
    rows and their units, the slot_loads rows, their units and the fullest one's used / capacity."""
    row = db.execute(
        """
        SELECT (SELECT count(*) FROM orders),
               (SELECT coalesce(sum(quantity), 0) FROM order_items WHERE sku IS NOT NULL),
               (SELECT count(*) FROM slot_reservations),
               (SELECT coalesce(sum(units), 0) FROM slot_reservations),
               (SELECT count(*) FROM slot_loads),
               (SELECT coalesce(sum(used), 0) FROM slot_loads),
               (SELECT coalesce(max(used), 0) FROM slot_loads),
               (SELECT coalesce(max(capacity), 0) FROM slot_loads)
        """
    ).fetchone()
    keys = (
        "orders",
        "item_units",
        "reservations",
        "reserved_units",
        "loads",
        "load_units",
        "most_used",
        "capacity_per_slot",
    )
    return dict(zip(keys, (int(value) for value in row), strict=True))


def bookings_wrong(capacity: str, booked: dict) -> bool:
    """Whether the bookings are not what the side must have: every item's units booked once ("on"), none ("off")."""
    if capacity == "off":
        return booked["reservations"] != 0 or booked["loads"] != 0
    units = booked["item_units"]
    return not (units > 0 and booked["reserved_units"] == units == booked["load_units"])


@contextmanager
def slots_stack(side: Side, args, capacity: str) -> Iterator[Callable[[int], dict]]:
    """A fresh stack of `side` (web + relay) with the demo menu loaded, with capacity (`capacity` "on",
    capacity_menu) or without ("off"), warmed up for 2 s at c=10 on the menu orders; yields the
    function that runs one phase at a given concurrency on emptied tables and queues, its figures
    with the phase's bookings."""
    with fresh_run(side, args, f"slots{capacity}") as run, connect(run.db) as db:
        menu = json.loads((side.root / MENU).read_text())
        menu_file = Path(run.log_dir, "menu.json")
        menu_file.write_text(json.dumps(capacity_menu(menu) if capacity == "on" else menu))
        manage(side, run.env, "load_menu", str(menu_file))
        orders = [body for body, _ in menu_orders(side)]
        bodies = Path(run.log_dir, "bodies.jsonl")
        bodies.write_text("".join(json.dumps(body) + "\n" for body in orders))
        relay = run.start_relay()
        url, web = run.start_web(sample=orders[0])
        run_wrk(url, 10, min(2, args.duration), args.timeout, bodies)  # warm-up, not reported
        wait_for_drain(db, relay)

        def slots_phase(concurrency: int) -> dict:
            empty_tables(db)
            purge_kitchen_queues(run.amqp_url)
            result = load_phase(url, db, relay, web, concurrency, args, bodies)
            result.update(bookings(db))
            result["bookings_wrong"] = bookings_wrong(capacity, result)
            run.failed |= result["non_2xx"] > 0 or result["socket_errors"] > 0 or result["bookings_wrong"]
            return {"side": side.name, "capacity": capacity, **result}

        yield slots_phase
