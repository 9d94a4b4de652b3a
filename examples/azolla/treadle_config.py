"""treadle's client configuration: the URL (a server or a database), the namespace (Azolla's domain) and,
for a server, an API key (default `$TREADLE_API_KEY`). Nothing connects until first use."""

from __future__ import annotations

import os

from treadle import AsyncClient

client = AsyncClient(os.environ.get("TREADLE_URL", "http://production-orchestrator:52710"), namespace="production")
