"""Local runs: a task started in the background of a script, with no database and no server."""
