-- Session affinity: every task of one session runs on the worker that owns the session while that
-- worker lives (its session lease is renewed with its heartbeat), then moves on to another worker.
ALTER TABLE tasks ADD COLUMN session_id TEXT;

CREATE TABLE sessions (
    namespace     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    worker_id     TEXT NOT NULL,
    lease_expires REAL NOT NULL,
    PRIMARY KEY (namespace, session_id)
);
CREATE INDEX sessions_worker ON sessions (namespace, worker_id);
