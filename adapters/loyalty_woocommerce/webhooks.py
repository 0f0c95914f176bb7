"""Processing of stored WooCommerce webhook deliveries through the sync engine.

The receiver only verifies and stores a delivery; this turns it into the same idempotent
calls the cron sync makes, so a delivery that is retried, duplicated, late or out of
order changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress

from loyalty_plugins.errors import MappingError, OrderNotFound
from loyalty_plugins.program import LoyaltyProgram
from loyalty_plugins.sync.engine import SyncEngine
from loyalty_plugins.sync.state import Delivery
from loyalty_plugins.web.inbox import delivery_json
from loyalty_woocommerce import mapping
from loyalty_woocommerce.client import WooCommerceClient


def make_processor(
    program: LoyaltyProgram, clients: Mapping[str, WooCommerceClient]
) -> Callable[[Delivery], None]:
    """A processor for the receiver: ``order.*`` and ``customer.*`` topics of these stores."""

    def process(delivery: Delivery) -> None:
        client = clients.get(delivery.store)
        if client is None:
            raise MappingError(f"no WooCommerce store named {delivery.store!r} is configured")
        resource, _, event = delivery.topic.partition(".")
        if resource not in ("order", "customer"):
            return  # other topics (action.*, product.*) are not ours
        data = delivery_json(delivery)
        if not isinstance(data, Mapping):
            raise MappingError(f"webhook body is a {type(data).__name__}, not an object")
        engine = SyncEngine(program, client)
        if resource == "customer":
            if event != "deleted":
                engine.process_customer(data)
            return
        if event == "deleted":
            order_id = data.get("id")
            if not isinstance(order_id, int | str) or isinstance(order_id, bool):
                raise MappingError("deleted order without an id", path="id")
            with suppress(OrderNotFound):  # deleted before it ever earned: nothing to undo
                program.void_order(
                    f"{mapping.PLATFORM}:{client.store}:{order_id}",
                    at=program.clock.now(),
                    reason="deleted in the store",
                )
            return
        # The engine quarantines an order it cannot record, with the reason, and the
        # delivery itself counts as processed: retrying it would fail the same way.
        engine.process_order(data)

    return process
