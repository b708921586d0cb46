"""The errors of order reads and writes, in the API's one error shape (restaurant/api.py)."""

from datetime import UTC, timedelta

from restaurant.api import ApplicationError


class OrderNotFound(ApplicationError):
    def __init__(self, number: str) -> None:
        super().__init__(code="not_found", errors={"order_number": [f"no order {number}"]}, status_code=404)


class TransitionNotAllowed(ApplicationError):
    def __init__(self, order, new_status: str) -> None:
        message = f"cannot go from {order.status} to {new_status}"
        super().__init__(code="transition_not_allowed", errors={"status": [message]}, status_code=409)
        self.order = order


class RecallExpired(ApplicationError):
    def __init__(self, number: str, within: timedelta) -> None:
        message = f"order {number} was completed more than {int(within.total_seconds() // 60)} minutes ago"
        super().__init__(code="recall_expired", errors={"order_number": [message]}, status_code=409)


class ItemNotFound(ApplicationError):
    def __init__(self, number: str, item: object) -> None:
        super().__init__(code="not_found", errors={"item": [f"order {number} has no item {item}"]}, status_code=404)


class ItemMarkRefused(ApplicationError):
    """An item can be marked prepared only while its order cooks, and the mark undone for a minute."""

    def __init__(self, message: str) -> None:
        super().__init__(code="item_mark_refused", errors={"item": [message]}, status_code=409)


class DuplicateRequest(ApplicationError):
    """A POST /orders repeating an `Idempotency-Key` (a double tap, a retry after a lost answer): no
    second order; the answer names the order the key made."""

    def __init__(self, number: str) -> None:
        super().__init__(
            code="duplicate_request",
            errors={"Idempotency-Key": [f"was already used: it placed order {number}"]},
            status_code=409,
            extra={"order_number": number},
        )


def utc_text(moment) -> str | None:
    """A time as the API writes it: ISO 8601 in UTC with Z (None stays None)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


class SlotFull(ApplicationError):
    """No room in the kitchen for the order when it is asked for: `next_available` says when there is."""

    def __init__(self, message: str, next_available) -> None:
        when = utc_text(next_available)
        super().__init__(
            code="slot_full", errors={"ready_at": [message]}, status_code=409, extra={"next_available": when}
        )


class KitchenClosed(ApplicationError):
    """Outside the opening hours (ASAP included): `next_open` says when the restaurant opens next."""

    def __init__(self, next_open) -> None:
        when = utc_text(next_open)
        super().__init__(
            code="closed",
            errors={"ready_at": ["the restaurant is closed then"]},
            status_code=409,
            extra={"next_open": when},
        )


class KitchenPaused(ApplicationError):
    """New ASAP orders are paused (a Manager's "kitchen busy", orders/pause.py) and no slot after the
    pause fits within the ASAP horizon: `paused_until` says until when, `next_available` the end of the
    first slot after the pause with room for the order (to ask for as a `ready_at`; None: none within
    days_ahead)."""

    def __init__(self, paused_until, next_available) -> None:
        until = utc_text(paused_until)
        super().__init__(
            code="kitchen_paused",
            errors={"ready_at": [f"new orders for as soon as possible are paused until {until}"]},
            status_code=409,
            extra={"paused_until": until, "next_available": utc_text(next_available)},
        )
