"""Azolla README, "Client Configuration" (imports changed; the endpoint may come from $TREADLE_URL).

Nothing connects until the client is first used (or opened with `async with client:`).
"""

from __future__ import annotations

import os

from treadle.compat.azolla import Client, ClientConfig

config = ClientConfig(
    endpoint=os.environ.get("TREADLE_URL", "http://production-orchestrator:52710"),
    domain="production",
    timeout=60.0,
    max_message_size=16 * 1024 * 1024  # 16MB
)

client = Client(config)
