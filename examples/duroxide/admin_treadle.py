"""The "Admin APIs" example in treadle's own words: `python -m examples.duroxide.admin_treadle`.

The same calls are on the command line too: `treadle wf ls`, `wf show ID`, `wf history ID`,
`wf delete ID`.
"""

from __future__ import annotations

from typing import Any

from treadle import Client, OrchestrationContext, Runtime

from .env import treadle_url

URL = treadle_url()
runtime = Runtime(URL)


@runtime.activity("Echo")
def echo(value: Any) -> Any:
    """Returns its input."""
    return value


@runtime.orchestration("Leaf")
def leaf(ctx: OrchestrationContext, n: int) -> Any:
    """A child orchestration."""
    return (yield ctx.schedule_activity("Echo", n))


@runtime.orchestration("Counter")
def counter(ctx: OrchestrationContext, n: int) -> Any:
    """Runs a child, then continues as new until n reaches 3."""
    yield ctx.schedule_sub_orchestration("Leaf", n)
    if n < 3:
        return (yield ctx.continue_as_new(n + 1))
    return n


def main() -> None:
    """Run instance-1, inspect it, then clean up."""
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("instance-1", "Counter", 0)
            print("instance-1:", client.wait_for_orchestration("instance-1", timeout=30).output)
    finally:
        runtime.shutdown()

    with Client(URL) as client:
        metrics = client.system_metrics()               # instances by status, queue depths by task name
        instances = client.list_orchestrations(limit=100)
        info = client.get_orchestration("instance-1")
        tree = client.orchestration_tree("instance-1")
        executions = client.list_executions("instance-1")
        for event in client.read_history("instance-1", executions[0]):
            print(event.kind, event.data)
        pruned = client.prune_executions("instance-1", keep_last=2)
        print("metrics:", metrics["instances"], "instances:", len(instances), "info:", info.name, info.status,
              info.execution)
        print("tree children:", len(tree["children"]), "executions:", executions, "pruned events:", pruned > 0)
        print("kept:", client.list_executions("instance-1"))
        client.delete_orchestration("instance-1")


if __name__ == "__main__":
    main()
