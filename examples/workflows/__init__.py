"""A durable workflow, run in-process: `python -m examples.workflows.order`."""
