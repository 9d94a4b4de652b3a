"""The DistWorker SDK README's examples on treadle (`treadle.compat.distworker`), beside treadle's own versions.

Each `*_treadle.py` file is the same worker written with treadle's API. Every worker signs in
to a `treadle server`: create its credential with `treadle auth add-worker NAME` and give the
URL, id and secret through `DISTWORKER_CONTROLLER_URL`, `DISTWORKER_WORKER_ID` and
`DISTWORKER_WORKER_TOKEN` (the treadle versions read `TREADLE_URL`, `TREADLE_WORKER_ID` and
`TREADLE_WORKER_TOKEN`).
"""
