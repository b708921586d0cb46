"""The back office for orders (SPEC §7), a module per job: the order pages (`orders`), the staff order
entry on the order's add page (`entry`), the API tokens (`tokens`), the speed-of-service report
(`speed`), the kitchen's capacity page (`capacity`), the tables with their QR codes (`tables`) and the
pause of new ASAP orders (`pause`). Importing them registers them on the admin site."""

from orders.admin import capacity, orders, pause, speed, tables, tokens  # noqa: F401
