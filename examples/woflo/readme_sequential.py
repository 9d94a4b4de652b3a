"""woflo's SequentialTaskRun example on treadle: each call blocks until its task ended."""

import time

from treadle.compat.woflo import task
from treadle.compat.woflo.runners import SequentialTaskRun


@task(runner=SequentialTaskRun)
def sequential_sleepy_worker():
    time.sleep(5)
    print('I am done')


for _ in range(10):
    sleepy_task_run = sequential_sleepy_worker()
