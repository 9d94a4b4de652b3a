"""Tasks for `Registry.add_module` unit tests: two function tasks, one Task class, and things that are not tasks."""

from __future__ import annotations

from pydantic import BaseModel

from treadle.core.task import Task, task


@task(name="fixture.add")
def add(a: int, b: int) -> int:
    return a + b


@task
async def double(x: int) -> int:
    return 2 * x


class Thumbnail(Task):
    name = "fixture.thumbnail"

    class Args(BaseModel):
        path: str

    def execute(self, args: Thumbnail.Args) -> str:
        return args.path


def plain_helper(x: int) -> int:
    """Not decorated: must not be registered."""
    return x


class NotATask:
    """A class that is not a Task subclass: must not be registered."""
