"""woflo's MultiprocessTaskRun example on treadle, with spawned (not forked) processes.

The README only defines the task; the lines under `__main__` run it. A spawned process
re-imports this module, hence the guard, as with any spawn-based multiprocessing.
"""

import os
import time

from treadle.compat.woflo import task
from treadle.compat.woflo.runners.multiprocess import MultiprocessTaskRun, SpawnProcess

MultiprocessTaskRun.process_type = SpawnProcess

@task(runner=MultiprocessTaskRun)
def sleepy_worker():
    time.sleep(5)
    print('I am done')
    return os.getpid()


if __name__ == "__main__":
    runs = [sleepy_worker() for _ in range(3)]
    pids = {run.get_result(raise_exceptions=True) for run in runs}
    print(f"{len(pids)} spawned processes, none of them this one: {os.getpid() not in pids}")
