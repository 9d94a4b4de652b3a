"""duroxide's "Event Queues" example, run end to end: `python -m examples.duroxide.event_queues`.

The chat bot and the client lines are the README's. Around them: the `Generate` activity it
calls, and a second message ("Bye!") that ends the conversation; between the two the bot
continues as new, and the second message waits in the queue for the next execution.
"""

from __future__ import annotations

import json

from treadle.compat.duroxide import Client, Runtime, SqliteProvider

from .env import provider_from_env

provider = provider_from_env() or SqliteProvider.in_memory()
runtime = Runtime(provider)


@runtime.register_orchestration("ChatBot")
def chat_bot(ctx, input):
    msg_json = yield ctx.dequeue_event("inbox")
    msg = json.loads(msg_json)
    response = yield ctx.schedule_activity("Generate", msg["text"])
    ctx.set_custom_status(json.dumps({"state": "replied", "response": response, "seq": msg["seq"]}))
    if "bye" in msg["text"].lower():
        return f"Done after {msg['seq']} msgs"
    return (yield ctx.continue_as_new(""))


# ---------------------------------------------------------------- what the README leaves out

@runtime.register_activity("Generate")
def generate(ctx, text):
    return f"Echo: {text}"


def main():
    """Chat twice with the bot and print its replies and how it ended."""
    runtime.start()
    client = Client(provider)
    instance_id = "chat-1"
    try:
        client.start_orchestration(instance_id, "ChatBot", "")

        # Send messages from outside
        client.enqueue_event(instance_id, "inbox", json.dumps({"seq": 1, "text": "Hello!"}))
        status = client.wait_for_status_change(instance_id, 0, 50, 10000)
        reply = json.loads(status.custom_status)
        print(reply)

        client.enqueue_event(instance_id, "inbox", json.dumps({"seq": 2, "text": "Bye!"}))
        status = client.wait_for_orchestration(instance_id, 10_000)
        print(json.loads(status.custom_status))
        print(status.status, status.output)
    finally:
        client.close()
        runtime.shutdown()


if __name__ == "__main__":
    main()
