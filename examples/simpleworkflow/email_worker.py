"""README sections 1 and 2: an `EmailExecutor` and a poller that runs it.

The README's code, only the import lines changed: `python -m examples.simpleworkflow.email_worker`;
stop it with Ctrl-C or SIGTERM.
"""

from __future__ import annotations

# --- 1. Implement a Workflow Executor
from treadle.compat.simpleworkflow import WorkflowExecutor, WorkflowRun


class EmailExecutor(WorkflowExecutor):
    def execute(self, run: WorkflowRun):
        # Access workflow run data
        payload = run.payload
        to_email = payload['to']
        subject = payload['subject']
        body = payload['body']  # noqa: F841 - the README reads it for send_email

        # Send email (your implementation)
        print(f"Sending email to {to_email}: {subject}")
        # send_email(to_email, subject, body)

        return {"sent": True, "to": to_email}


# --- 2. Create and Start the Poller
import os  # noqa: E402 - the README's second snippet starts here

from treadle.compat.simpleworkflow import IntentPoller  # noqa: E402

# Database connection (must include search_path parameter)
db_url = os.getenv('DATABASE_URL', 'postgres://postgres:postgres@localhost/workflow')
if '?' in db_url:
    db_url += '&search_path=workflow'
else:
    db_url += '?search_path=workflow'

# Create poller with type-prefix routing
type_prefixes = ['notify.%']  # Handles all notification workflows
poller = IntentPoller(
    db_url=db_url,
    type_prefixes=type_prefixes,
    worker_id='email-worker-1',
    poll_interval=2,         # seconds
    lease_duration=30        # seconds
)

# Register executor
email_executor = EmailExecutor()
poller.register_executor('notify.email.v1', email_executor)

# Start polling (blocking)
poller.start()
