"""treadle's observability: the library only logs (one logger per module, a stable `event` key and ids in
each record's `extra`); the application picks the handlers. `treadle server` serves Prometheus metrics
at `/metrics`. This handler prints the structured fields of the records a worker writes."""

from __future__ import annotations

import logging

EVENT_FIELDS = ("event", "task_id", "worker_id", "count")


class EventFormatter(logging.Formatter):
    """`level logger: message {event fields}`."""

    def format(self, record: logging.LogRecord) -> str:
        """One line per record, with its structured fields."""
        fields = {k: getattr(record, k) for k in EVENT_FIELDS if hasattr(record, k)}
        return f"{record.levelname} {record.name}: {record.getMessage()} {fields}"


def setup_logging(level: str = "INFO") -> None:
    """Send treadle's records to stderr with their structured fields."""
    handler = logging.StreamHandler()
    handler.setFormatter(EventFormatter())
    logging.basicConfig(level=level, handlers=[handler])


if __name__ == "__main__":
    setup_logging("INFO")
    logging.getLogger("treadle.engine.worker").info("worker %s started", "w-1",
                                                    extra={"event": "worker_started", "worker_id": "w-1"})
