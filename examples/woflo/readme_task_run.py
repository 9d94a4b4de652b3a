"""woflo's TaskRun example on treadle: monitor a run, then read its result (or its error).

The README's `if duration < 10` lacks its colon; it is added here. The last lines show the
failing branch: `get_result()` returns the exception, `raise_exceptions=True` raises it.
"""

import time

from treadle.compat.woflo import task


@task
def quick_nap(duration):
    time.sleep(duration)
    if duration < 10:
        raise Exception("Ouch oof")
    else:
        return 'Well rested'


if __name__ == "__main__":
    napping = quick_nap(10)

    assert napping.is_running()

    napping.wait()
    assert napping.get_result() == "Well rested"
    print(napping.get_result())

    short_nap = quick_nap(1)
    print(repr(short_nap.get_result()))
    try:
        short_nap.get_result(raise_exceptions=True)
    except Exception as exc:
        print(f"raised: {exc}")
