"""woflo's retry example on treadle: three attempts in all, five seconds apart.

The README's body is `...`; this one fails twice, then succeeds, and reports its attempts.
"""

from treadle import current_context
from treadle.compat.woflo import task


@task(retries=2, retry_sleep_time=5)
def fetch_data_from_unstable_api():
    attempt = current_context().attempt
    if attempt < 3:
        raise ConnectionError(f"the API is down (attempt {attempt})")
    return {"attempt": attempt, "data": [1, 2, 3]}


if __name__ == "__main__":
    print(fetch_data_from_unstable_api().get_result(raise_exceptions=True))
