"""The "Event Queues" example in treadle's own words: `python -m examples.duroxide.event_queues_treadle`.

Queue messages and custom statuses are JSON values, so nothing is encoded by hand; unread
messages move to the next execution when the orchestration continues as new.
"""

from __future__ import annotations

from typing import Any

from treadle import Client, OrchestrationContext, Runtime

from .env import treadle_url

URL = treadle_url()
runtime = Runtime(URL)


@runtime.orchestration("ChatBot")
def chat_bot(ctx: OrchestrationContext, input: Any) -> Any:
    """Answers one message per execution until told bye."""
    msg = yield ctx.dequeue_event("inbox")
    response = yield ctx.schedule_activity("Generate", {"text": msg["text"]})
    ctx.set_custom_status({"state": "replied", "response": response, "seq": msg["seq"]})
    if "bye" in msg["text"].lower():
        return f"Done after {msg['seq']} msgs"
    return (yield ctx.continue_as_new(None))


@runtime.activity("Generate")
def generate(text: str) -> str:
    """Writes a reply."""
    return f"Echo: {text}"


def main() -> None:
    """Chat twice with the bot."""
    runtime.start()
    try:
        with Client(URL) as client:
            client.start_orchestration("chat-1", "ChatBot")
            client.enqueue_event("chat-1", "inbox", {"seq": 1, "text": "Hello!"})
            print(client.wait_for_status_change("chat-1", 0, timeout=10).custom_status)
            client.enqueue_event("chat-1", "inbox", {"seq": 2, "text": "Bye!"})
            final = client.wait_for_orchestration("chat-1", timeout=10)
            print(final.custom_status)
            print(final.status, final.output)
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
