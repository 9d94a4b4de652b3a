"""The woflo examples in treadle's own words: `@task(runner=...)` and `treadle.start_local`.

Ten sleepy tasks in parallel, a retried one, a sequential one and a stopped one, each a
`TaskRun` with `wait`, `get_result` (which re-raises), `exception`, `stop` and `is_running`.
"""

from __future__ import annotations

import time

from treadle import ProcessRunner, TaskTimeoutError, current_context, start_local, task


@task(retries=0)                         # runner="process" is the default
def sleepy_worker(seconds: float) -> str:
    time.sleep(seconds)
    return "I am done"


@task(runner="thread", retries=2, retry_sleep_time=0.5)
def fetch_data_from_unstable_api() -> dict[str, object]:
    attempt = current_context().attempt
    if attempt < 3:
        raise ConnectionError(f"the API is down (attempt {attempt})")
    return {"attempt": attempt}


@task(runner="sequential", timeout=0.5, retries=0)
def too_slow() -> None:
    time.sleep(5)


@task(runner=ProcessRunner("spawn"), retries=0)
def spawned(n: int) -> int:
    return n * n


if __name__ == "__main__":
    runs = [start_local(sleepy_worker, 1) for _ in range(10)]
    print(f"started {len(runs)} runs without waiting for them")
    print(sorted({run.get_result() for run in runs}))
    print(start_local(fetch_data_from_unstable_api).get_result())
    try:
        start_local(too_slow).get_result()
    except TaskTimeoutError as exc:
        print(f"timed out: {exc}")
    print(start_local(spawned, 7).get_result())
    forever = start_local(sleepy_worker, 3600)
    forever.stop()
    print(forever.status)
