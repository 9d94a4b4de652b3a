"""README sections 3 and 4: a long-running executor with heartbeat and cancellation, its poller in a background thread.

Run it with `python -m examples.simpleworkflow.video_worker`; Ctrl-C stops it. Sections 3 and 4
are the README's code with only the import lines changed; between them, the poller is made as
in section 2, for the `media.%` types this executor handles.
"""

from __future__ import annotations

# --- 3. Long-Running Workflows with Heartbeat
import time

from treadle.compat.simpleworkflow import WorkflowExecutor, WorkflowRun


class VideoProcessingExecutor(WorkflowExecutor):
    def execute(self, run: WorkflowRun):
        payload = run.payload
        video_id = payload['video_id']

        # Long processing task
        for i in range(10):
            print(f"Processing video {video_id}... step {i+1}/10")
            time.sleep(5)  # Simulate work

            # Extend lease every 5 seconds (lease_duration is 30s)
            run.heartbeat(30)

            # Check for cancellation
            if run.is_cancelled():
                print("Workflow cancelled, stopping...")
                raise Exception("Workflow cancelled by user")

        return {"video_id": video_id, "status": "processed"}


# --- the poller, as in section 2
import os  # noqa: E402

from treadle.compat.simpleworkflow import IntentPoller  # noqa: E402

db_url = os.getenv('DATABASE_URL', 'postgres://postgres:postgres@localhost/workflow')
if '?' in db_url:
    db_url += '&search_path=workflow'
else:
    db_url += '?search_path=workflow'

poller = IntentPoller(
    db_url=db_url,
    type_prefixes=['media.%'],
    worker_id='video-worker-1',
    poll_interval=2,
    lease_duration=30
)
poller.register_executor('media.video.v1', VideoProcessingExecutor())

# --- 4. Run in Background Thread
import threading  # noqa: E402

# Start poller in background thread
poller_thread = threading.Thread(target=poller.start, daemon=True)
poller_thread.start()

# Your application continues here
print("Poller running in background...")

# Keep application alive
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    poller.stop()
    print("Poller stopped")
