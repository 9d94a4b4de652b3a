"""Runnable examples (run them from the repository root, e.g. `python -m examples.quickstart.submit`)."""
