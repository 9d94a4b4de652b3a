"""The pure core: task definitions, states, retry decisions, routing and serde. No I/O here."""
