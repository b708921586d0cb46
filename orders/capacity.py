"""Honest ready times (issue 19): the kitchen's clock, its slots and their capacity.

The day is cut into slots of `slot_minutes` from the restaurant's local midnight; a slot is open when
it lies inside an opening range of its day ("24:00" closes at midnight). Every station may have a
capacity per slot in load units (`menu.Station.capacity_per_slot`), and every item a load
(`menu.MenuItem.load`): an order puts quantity × load on each of its items' stations. Why units per
station and not orders per slot: a pizza oven and a bar fill up apart, and a family pizza takes the
oven longer than a coffee takes the bar; counting orders would overbook the oven while the bar
idles (docs/architecture.md).

An order's **lead** is the longest `prep_seconds` of its stations (its order type's cooking time when
it has no menu item with one). Its **slot**: for ASAP the earliest open slot ending at least now +
lead where each of its stations has room, within the ASAP horizon; for a requested time T the open
slot with start < T ≤ end. `promised_at` is the slot's end. While a Manager pauses new ASAP orders
("kitchen busy", orders/pause.py) an ASAP order's slot ends at least the pause's end + lead, or it
is refused (`kitchen_paused`) when none does within the horizon; a requested time is not affected.
The reservation itself is orders/services.py's (`order_create`), in the order's own statement, and
the database holds the rule (`slot_loads`: CHECK used <= capacity), so no burst overbooks a slot.
"""

import time as time_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from menu.models import Kitchen, MenuItem, Station
from orders.errors import KitchenClosed, KitchenPaused, SlotFull, utc_text
from orders.models import SlotLoad
from orders.timing import cooking_time
from orders.validation import OrderInvalid

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Clock:
    zone: ZoneInfo
    slot: timedelta
    horizon: timedelta
    days_ahead: int
    hours: tuple[dict, ...]  # empty: open all day
    paused_until: datetime | None = None  # new ASAP orders paused until then (orders/pause.py)

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now

    def local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.zone)

    def open_ranges(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening ranges, as aware datetimes."""
        midnight = self.local_midnight(day)
        if not self.hours:
            return [(midnight, self.local_midnight(day + timedelta(days=1)))]
        ranges = []
        for hours in self.hours:
            if DAY_NAMES[day.weekday()] in hours["days"]:
                ranges.append((_at(day, hours["open"], self.zone), _at(day, hours["close"], self.zone)))
        return sorted(ranges)

    def slot_at(self, moment: datetime) -> tuple[datetime, datetime]:
        """The slot holding `moment` (start ≤ moment < end)."""
        local = moment.astimezone(self.zone)
        midnight = self.local_midnight(local.date())
        index = (local - midnight) // self.slot
        start = midnight + index * self.slot
        return start, start + self.slot

    def is_open(self, start: datetime, end: datetime) -> bool:
        return any(low <= start and end <= high for low, high in self.open_ranges(start.astimezone(self.zone).date()))

    def slots_from(self, moment: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open slots from the one holding `moment`, starting before `until`."""
        start, end = self.slot_at(moment)
        while start < until:
            if self.is_open(start, end):
                yield start, end
            start, end = end, end + self.slot

    def next_open(self, moment: datetime) -> datetime | None:
        """When the restaurant next opens for a slot after `moment` (None: not within days_ahead + 7)."""
        return next((start for start, _ in self.slots_from(moment, moment + timedelta(days=self.days_ahead + 7))), None)


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    if clock == "24:00":
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    hour, minute = map(int, clock.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


# The clock is read at every order: kept in the process this long (a change made in another process
# is seen this late; one made in this process at once: `forget_clock`).
CLOCK_SECONDS = 5.0
_clock: tuple[float, "Clock"] | None = None


def forget_clock(**_) -> None:
    global _clock
    _clock = None


def kitchen_clock() -> Clock:
    global _clock
    if _clock is not None and time_module.monotonic() - _clock[0] < CLOCK_SECONDS:
        return _clock[1]
    kitchen = Kitchen.objects.filter(pk=1).first() or Kitchen()
    clock = Clock(
        zone=ZoneInfo(kitchen.time_zone),
        slot=timedelta(minutes=kitchen.slot_minutes),
        horizon=timedelta(minutes=kitchen.asap_horizon_minutes),
        days_ahead=kitchen.days_ahead,
        hours=tuple(kitchen.hours),
        paused_until=kitchen.paused_until,
    )
    _clock = (time_module.monotonic(), clock)
    return clock


post_save.connect(forget_clock, sender=Kitchen)
post_delete.connect(forget_clock, sender=Kitchen)


@dataclass(frozen=True)
class Need:
    """What an order asks of the kitchen: its lead, and the units per station that has a capacity."""

    lead: timedelta
    units: dict[str, int] = field(default_factory=dict)  # station → load units, stations with a capacity only
    capacity: dict[str, int] = field(default_factory=dict)  # station → its capacity per slot


def order_need(order_type: str, items) -> Need:
    """What the order's items (ItemInputs, as priced from the menu: no query here) ask of the kitchen."""
    prep = [item.station_prep_seconds for item in items if item.sku and item.station_prep_seconds]
    lead = timedelta(seconds=max(prep) * settings.COOKING_TIME_SCALE) if prep else cooking_time(order_type)
    units: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for item in items:
        if item.sku and item.station_capacity is not None and item.load:
            units[item.station] = units.get(item.station, 0) + item.quantity * item.load
            capacity[item.station] = item.station_capacity
    return Need(lead, units, capacity)


def fits(need: Need, start: datetime, used: dict[tuple[datetime, str], int]) -> bool:
    return all(used.get((start, code), 0) + units <= need.capacity[code] for code, units in need.units.items())


def used_between(start: datetime, until: datetime, stations) -> dict[tuple[datetime, str], int]:
    rows = SlotLoad.objects.filter(slot_start__gte=start, slot_start__lt=until, station__in=list(stations))
    return {(row.slot_start, row.station): row.used for row in rows}


def _fitting(
    clock: Clock, need: Need, start: datetime, until: datetime, *, by_loads: bool = True
) -> list[tuple[datetime, datetime]]:
    """The open slots from `start`'s to `until` where the order fits, by the loads booked now (without
    `by_loads`, every open slot: the database's CHECK is the judge)."""
    slots = list(clock.slots_from(start, until))
    if not need.units or not slots or not by_loads:
        return slots
    used = used_between(slots[0][0], slots[-1][1], need.units)
    return [(low, high) for low, high in slots if fits(need, low, used)]


def order_slots(
    need: Need, ready_at: datetime | None, now: datetime, *, by_loads: bool = True
) -> list[tuple[datetime, datetime]]:
    """The slots to try for an order, best first (the database has the last word: a slot filled
    meanwhile is refused by its CHECK, and the next one is tried). Raises OrderInvalid for a ready_at
    in the past, too soon or too far, KitchenClosed outside the opening hours, SlotFull when full.

    Without `by_loads` the loads are not read: the open slots by the clock alone, for a first try
    that costs no query (orders/services.py reads the loads only once the CHECK has refused one)."""
    clock = kitchen_clock()
    earliest = now + need.lead
    if ready_at is None:
        if not any(True for _ in clock.slots_from(earliest, now + clock.horizon)):
            raise KitchenClosed(clock.next_open(earliest))
        if clock.paused(now):
            return _after_the_pause(clock, need, now, by_loads=by_loads)
        slots = _fitting(clock, need, earliest, now + clock.horizon, by_loads=by_loads)
        if not slots:
            raise SlotFull("the kitchen is full for the next while", next_available(clock, need, now + clock.horizon))
        return slots
    if ready_at <= now:
        raise OrderInvalid({"ready_at": ["is in the past"]})
    if ready_at < earliest:
        raise OrderInvalid({"ready_at": [f"is too soon: this order takes until {_iso(earliest)} at the earliest"]})
    if ready_at > now + timedelta(days=clock.days_ahead, minutes=clock.slot.total_seconds() // 60):
        raise OrderInvalid({"ready_at": [f"is too far ahead: at most {clock.days_ahead} days"]})
    start, end = clock.slot_at(ready_at - timedelta(microseconds=1))  # start < ready_at <= end
    if not clock.is_open(start, end):
        raise KitchenClosed(clock.next_open(ready_at))
    if not _fitting(clock, need, start, end, by_loads=by_loads):
        raise SlotFull("that slot is full", next_available(clock, need, end))
    return [(start, end)]


def _after_the_pause(clock: Clock, need: Need, now: datetime, *, by_loads: bool) -> list[tuple[datetime, datetime]]:
    """An ASAP order's slots while new ASAP orders are paused: ending at least the pause's end + lead,
    within the horizon; else KitchenPaused, with the first slot after the pause that has room."""
    earliest = clock.paused_until + need.lead
    slots = _fitting(clock, need, earliest, now + clock.horizon, by_loads=by_loads)
    if not slots:
        raise KitchenPaused(clock.paused_until, next_available(clock, need, earliest))
    return slots


def next_available(clock: Clock, need: Need, after: datetime) -> datetime | None:
    """The end of the next slot from `after` with room for the order, within days_ahead."""
    slots = _fitting(clock, need, after, after + timedelta(days=clock.days_ahead + 1))
    return slots[0][1] if slots else None


def _iso(moment: datetime) -> str:
    return utc_text(moment.replace(microsecond=0))


def day_slots(day: date, need: Need | None = None) -> dict:
    """The open slots of `day` (in the restaurant's zone), each with every station that has a capacity:
    its capacity and the units booked; `full` when one of them has no unit left; with `need` (a cart),
    `fits` when the cart's units would fit. `paused_until`: while new ASAP orders are paused, until when
    (an ASAP order is then promised a slot ending at least that + its lead)."""
    clock = kitchen_clock()
    stations = dict(Station.objects.filter(capacity_per_slot__isnull=False).values_list("code", "capacity_per_slot"))
    midnight = clock.local_midnight(day)
    end_of_day = clock.local_midnight(day + timedelta(days=1))
    slots = list(clock.slots_from(midnight, end_of_day))
    used = used_between(midnight, end_of_day, stations) if slots else {}
    listed = []
    for start, end in slots:
        loads = {code: {"capacity": cap, "used": used.get((start, code), 0)} for code, cap in stations.items()}
        slot = {"start": _iso(start), "end": _iso(end), "full": any(s["used"] >= s["capacity"] for s in loads.values())}
        slot["stations"] = loads
        if need is not None:
            slot["fits"] = fits(need, start, used)
        listed.append(slot)
    return {
        "date": day.isoformat(),
        "time_zone": str(clock.zone),
        "slot_minutes": int(clock.slot.total_seconds() // 60),
        "paused_until": utc_text(clock.paused_until) if clock.paused(datetime.now(UTC)) else None,
        "slots": listed,
    }


def local_clock_time(moment: datetime) -> str:
    """`moment` as HH:MM on the restaurant's clock."""
    return moment.astimezone(kitchen_clock().zone).strftime("%H:%M")


def today() -> date:
    """The restaurant's date now, on its clock."""
    return timezone.now().astimezone(kitchen_clock().zone).date()


def order_number_day(now: datetime) -> date:
    """The day whose counter numbers an order made at `now`: SPEC §3's UTC date, or with
    ORDER_NUMBER_DAY=local the restaurant's business day, which starts at BUSINESS_DAY_STARTS on its
    clock (04:00: an order at 02:00 belongs to the evening before, and a late dinner keeps counting
    on instead of restarting at 001 at UTC midnight)."""
    if settings.ORDER_NUMBER_DAY != "local":
        return now.astimezone(UTC).date()
    starts = settings.BUSINESS_DAY_STARTS
    # Wall-clock arithmetic in the zone: the day turns at 04:00 local on a DST change day too.
    return (now.astimezone(kitchen_clock().zone) - timedelta(hours=starts.hour, minutes=starts.minute)).date()


def cart_need(lines: list[tuple[str, int]]) -> Need:
    """What a cart (sku, quantity) would ask of the stations that have a capacity (unknown skus ask nothing)."""
    items = {
        item.sku: item for item in MenuItem.objects.select_related("station").filter(sku__in=[s for s, _ in lines])
    }
    units: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for sku, quantity in lines:
        item = items.get(sku)
        if item is not None and item.station.capacity_per_slot is not None and item.load:
            units[item.station.code] = units.get(item.station.code, 0) + quantity * item.load
            capacity[item.station.code] = item.station.capacity_per_slot
    return Need(timedelta(0), units, capacity)
