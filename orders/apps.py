from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from orders.models import OrderType
        from restaurant import broker

        # The broker's topology (SPEC §5) has a kitchen queue per order type.
        broker.set_kitchen_order_types(OrderType.values)
