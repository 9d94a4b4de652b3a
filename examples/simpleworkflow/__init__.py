"""The simple-workflow README's examples on treadle, each beside treadle's own way of writing it.

`email_worker`, `video_worker` and `notification_worker` are the README's code with only the
import lines changed (`simpleworkflow` -> `treadle.compat.simpleworkflow`); `treadle_worker` is
the same work as plain treadle tasks; `submit` submits intents for either kind of worker.

The database is `$DATABASE_URL`, as in the README, which then appends `search_path=workflow`.
To run in another schema, give the URL treadle's own `schema` parameter, which wins over
`search_path`: `DATABASE_URL='postgresql://user@host/db?schema=mine' python -m examples.simpleworkflow.email_worker`.
"""
