"""A task module that imports tasks defined elsewhere next to one of its own (for `Registry.add_module` tests)."""

from __future__ import annotations

from unit_tasks_fixture import Thumbnail, add  # noqa: F401  (re-exported on purpose)

from treadle.core.task import task


@task(name="reexport.own")
def own() -> str:
    return "own"
