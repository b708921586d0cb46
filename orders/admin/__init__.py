"""The back office for orders (SPEC §7), a module per job: the order pages (`orders`), the staff order
entry on the order's add page (`entry`), the API tokens (`tokens`) and the speed-of-service report
(`speed`). Importing them registers them on the admin site."""

from orders.admin import orders, speed, tokens  # noqa: F401
