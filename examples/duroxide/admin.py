"""duroxide's "Admin APIs" example, run end to end: `python -m examples.duroxide.admin`.

First, what the README assumes: an instance "instance-1" that ran a sub-orchestration and
continued as new three times. Then the README's admin calls, as written, and a summary.
"""

from __future__ import annotations

from treadle.compat.duroxide import Client, PyPruneOptions, Runtime, SqliteProvider

from .env import provider_from_env

provider = provider_from_env() or SqliteProvider.in_memory()
runtime = Runtime(provider)


@runtime.register_activity("Echo")
def echo(ctx, input):
    return input


@runtime.register_orchestration("Leaf")
def leaf(ctx, input):
    return (yield ctx.schedule_activity("Echo", input))


@runtime.register_orchestration("Counter")
def counter(ctx, n):
    yield ctx.schedule_sub_orchestration("Leaf", n)
    if n < 3:
        return (yield ctx.continue_as_new(n + 1))
    return n


def run_instance_1():
    """The instance the README's calls look at."""
    runtime.start()
    client = Client(provider)
    try:
        client.start_orchestration("instance-1", "Counter", 0)
        print("instance-1:", client.wait_for_orchestration("instance-1", 30_000).output)
    finally:
        client.close()
        runtime.shutdown()


def main():
    """Run instance-1, then the README's admin calls."""
    run_instance_1()

    client = Client(provider)

    # Metrics
    metrics = client.get_system_metrics()
    depths = client.get_queue_depths()

    # Instance management
    instances = client.list_all_instances()
    info = client.get_instance_info("instance-1")
    tree = client.get_instance_tree("instance-1")

    # Execution history with full event data
    executions = client.list_executions("instance-1")
    events = client.read_execution_history("instance-1", executions[0])
    for event in events:
        print(event.kind, event.data)
        # event.kind: "OrchestrationStarted" | "ActivityCompleted" | ...
        # event.data: JSON string with event-specific content (result, input, error, etc.)

    # Cleanup
    client.delete_instance("instance-1", force=True)
    client.prune_executions("instance-1", PyPruneOptions(keep_last=5))

    print("metrics:", metrics.total_instances, metrics.completed_instances, "queued:", depths.worker_queue)
    print("instances:", len(instances), "info:", info.orchestration_name, info.status, info.current_execution_id)
    print("tree:", tree.size, "executions:", executions)
    print("after cleanup:", client.get_status("instance-1").status)
    client.close()


if __name__ == "__main__":
    main()
