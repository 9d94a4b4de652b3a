"""Submit sample intents and print each result: `python -m examples.simpleworkflow.submit [email] [sms] [video]`.

Works with either kind of worker in this folder: an intent is a task named by its workflow
type, with the payload as its keyword arguments, submitted with the README's retry schedule.
"""

from __future__ import annotations

import os
import sys

from treadle.compat.simpleworkflow import IntentClient

SAMPLES = {
    "email": ("notify.email.v1", {"to": "ada@example.com", "subject": "Welcome!", "body": "Hello Ada"}),
    "sms": ("notify.sms.v1", {"phone": "+15550100", "message": "Your code is 4242"}),
    "video": ("media.video.v1", {"video_id": "cat-42"}),
}


def main(kinds: list[str]) -> int:
    db_url = os.getenv('DATABASE_URL', 'postgres://postgres:postgres@localhost/workflow')
    db_url += ('&' if '?' in db_url else '?') + 'search_path=workflow'
    unknown = [k for k in kinds if k not in SAMPLES]
    if unknown:
        print(f"unknown sample(s) {', '.join(unknown)}: choose from {', '.join(SAMPLES)}", file=sys.stderr)
        return 2
    with IntentClient(db_url) as intents:
        run_ids = [intents.submit(*SAMPLES[kind]) for kind in kinds]
        for run_id in run_ids:
            result = intents.client.wait(run_id, timeout=120)
            print(result.value if result.success else result.error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["email", "sms"]))
