"""Azolla's README examples on treadle (`readme_*.py`, only their imports changed) beside treadle's own
way of writing each (`treadle_*.py`); run them with `python -m examples.azolla.<module>`."""
