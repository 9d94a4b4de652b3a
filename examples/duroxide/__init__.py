"""duroxide-python's README examples on treadle: each as the README has it (only the imports changed),
beside treadle's own way of writing it (`*_treadle.py`). Run one with `python -m examples.duroxide.<name>`.

`$DUROXIDE_URL` points the README versions at another database (`postgresql://...` or
`sqlite:///file.db`) instead of the README's in-memory SQLite; `$TREADLE_URL` does the same for
treadle's versions.
"""
