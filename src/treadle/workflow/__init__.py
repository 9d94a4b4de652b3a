"""Durable orchestrations: generator functions replayed deterministically from their history.

`history` and `commands` describe what is stored and decided; `replay` is the pure engine
(history in, decision out); `context` is what orchestration code sees.
"""
