#!/usr/bin/env python3
"""
Example worker that processes notification workflows

The README's "Complete Example", only the import line changed:
`python -m examples.simpleworkflow.notification_worker`.
"""

from __future__ import annotations

import logging
import os

from treadle.compat.simpleworkflow import IntentPoller, WorkflowExecutor, WorkflowRun

logging.basicConfig(level=logging.INFO)

class NotificationExecutor(WorkflowExecutor):
    """Handles notification workflows"""

    def execute(self, run: WorkflowRun):
        workflow_type = run.type
        payload = run.payload

        if workflow_type == 'notify.email.v1':
            return self.send_email(payload)
        elif workflow_type == 'notify.sms.v1':
            return self.send_sms(payload)
        else:
            raise ValueError(f"Unknown workflow: {workflow_type}")

    def send_email(self, payload):
        to = payload['to']
        subject = payload['subject']
        body = payload['body']  # noqa: F841 - the README reads it for your sending logic

        # Your email sending logic here
        print(f"Sending email to {to}: {subject}")

        return {
            "sent": True,
            "to": to,
            "method": "email"
        }

    def send_sms(self, payload):
        phone = payload['phone']
        message = payload['message']

        # Your SMS sending logic here
        print(f"Sending SMS to {phone}: {message}")

        return {
            "sent": True,
            "to": phone,
            "method": "sms"
        }

def main():
    # Database configuration
    db_url = os.getenv('DATABASE_URL', 'postgres://postgres:postgres@localhost/workflow')
    if '?' in db_url:
        db_url += '&search_path=workflow'
    else:
        db_url += '?search_path=workflow'

    # Create poller with type-prefix routing
    type_prefixes = ['notify.%']  # Handles all notify.* workflows
    poller = IntentPoller(
        db_url=db_url,
        type_prefixes=type_prefixes,
        worker_id='notification-worker',
        poll_interval=2,
        lease_duration=30
    )

    # Register executor
    executor = NotificationExecutor()
    poller.register_executor('notify.email.v1', executor)
    poller.register_executor('notify.sms.v1', executor)

    # Start polling
    print("Starting notification worker...")
    poller.start()

if __name__ == '__main__':
    main()
