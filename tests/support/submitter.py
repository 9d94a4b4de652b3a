"""`python -m submitter URL FIRST COUNT [BATCH]`: submit e2e.record tasks FIRST..FIRST+COUNT-1."""

from __future__ import annotations

import sys

from e2e_tasks import record_task

from treadle import Client


def main() -> None:
    """Submit the range in batches (one transaction each), then print how many."""
    url, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    with Client(url) as client:
        for start in range(first, first + count, batch):
            items = [client.submit_task(record_task, [i]) for i in range(start, min(start + batch, first + count))]
            client.submit_many(items)
    print(count)


if __name__ == "__main__":
    main()
