"""The workflow guide's example: an order charged, a durable timer, an approval event.

Run it from the repository root: `python -m examples.workflows.order` (uses $TREADLE_URL, else
./treadle.db).
"""

from __future__ import annotations

import os
from typing import Any

from treadle import Client, OrchestrationContext, Runtime

URL = os.environ.get("TREADLE_URL", "sqlite:///treadle.db")
runtime = Runtime(URL)


@runtime.activity("orders.charge", retries=3)
def charge(order_id: str, amount: int) -> dict[str, Any]:
    """Pretends to charge a card."""
    return {"order": order_id, "charged": amount}


@runtime.orchestration("orders.process")
def process(ctx: OrchestrationContext, order: dict[str, Any]) -> Any:
    """Charge, wait a little (durably), then wait for an approval."""
    ctx.set_custom_status("charging")
    receipt = yield ctx.schedule_activity("orders.charge", {"order_id": order["id"], "amount": order["total"]})
    ctx.set_custom_status("waiting for approval")
    yield ctx.schedule_timer(200)
    approval = yield ctx.wait_for_event("approval")
    return {"receipt": receipt, "approved_by": approval["by"]}


def main() -> None:
    """Start the runtime, run one order through it, print the output."""
    runtime.start()
    try:
        with Client(URL) as client:
            instance = f"order-{os.getpid()}"
            client.start_orchestration(instance, "orders.process", {"id": "42", "total": 99})
            client.raise_event(instance, "approval", {"by": "ada"})
            info = client.wait_for_orchestration(instance, timeout=30)
            print(info.status, info.output)
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
