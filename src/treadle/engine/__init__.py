"""I/O glue between the pure core and storage: the worker, task execution and the task context."""
