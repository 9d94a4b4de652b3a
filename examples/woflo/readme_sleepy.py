"""woflo's first README example on treadle: ten sleepy workers in parallel, the caller not blocked.

Only the import line differs from the README (`from woflo import task`).
"""

import time

from treadle.compat.woflo import task


@task
def sleepy_worker():
    time.sleep(5)
    print('I am done')


for _ in range(10):
    sleepy_task_run = sleepy_worker()
