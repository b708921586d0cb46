"""Fixtures of the kitchen's tests: the display tests' channel layer (`fresh_layer`, which the
display modules use for all their tests through `pytestmark`), an in-process kitchen worker, and an
AMQP channel with publisher confirms for the dead-letter tests."""

import pytest
from channels.layers import channel_layers

from kitchen.bridge import bridges
from kitchen.worker import KitchenWorker, WorkerConfig
from orders.models import OrderType
from restaurant.lifecycle import StopFlag


@pytest.fixture
def fresh_layer(transactional_db):
    """Every test its own in-memory layer (it belongs to one event loop) and its bridge stopped."""
    channel_layers.backends.clear()
    yield
    bridges.stop()
    channel_layers.backends.clear()


@pytest.fixture
def channel(amqp_channel):
    """The test's channel (queues empty, topology declared) with publisher confirms, so a message
    is in its queue when `basic_publish` returns."""
    amqp_channel.confirm_delivery()
    return amqp_channel


@pytest.fixture
def in_process_worker(amqp_channel):
    """`in_process_worker(name, order_types)`: a registered KitchenWorker consuming its queues."""
    started: list[KitchenWorker] = []

    def start(name: str, order_types: tuple[str, ...] = tuple(OrderType.values)) -> KitchenWorker:
        config = WorkerConfig(name=name, order_types=order_types, all_types=order_types == tuple(OrderType.values))
        worker = KitchenWorker(config, stop=StopFlag())
        worker.register()
        worker.connect()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.shutdown()
