-- Session affinity: every task of one session runs on the worker that owns the session while that
-- worker lives (its session lease is renewed with its heartbeat), then moves on to another worker.
ALTER TABLE tasks ADD COLUMN session_id text;

CREATE TABLE sessions (
    namespace     text NOT NULL,
    session_id    text NOT NULL,
    worker_id     text NOT NULL,
    lease_expires double precision NOT NULL,
    PRIMARY KEY (namespace, session_id)
);
CREATE INDEX sessions_worker ON sessions (namespace, worker_id);
