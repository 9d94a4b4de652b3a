-- Tasks: one row per task; the attempt history lives in `errors` (a JSON array).
CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    namespace        TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    status           TEXT    NOT NULL
                     CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    args             TEXT    NOT NULL DEFAULT '[]',
    kwargs           TEXT    NOT NULL DEFAULT '{}',
    priority         INTEGER NOT NULL DEFAULT 0,
    run_after        REAL    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 1,
    retry_policy     TEXT    NOT NULL DEFAULT '{}',
    timeout_seconds  REAL,
    idempotency_key  TEXT,
    metadata         TEXT    NOT NULL DEFAULT '{}',
    lease_token      TEXT,
    lease_expires    REAL,
    worker_id        TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress         TEXT,
    result           TEXT,
    error            TEXT,
    errors           TEXT    NOT NULL DEFAULT '[]',
    created_at       REAL    NOT NULL,
    updated_at       REAL    NOT NULL,
    started_at       REAL,
    finished_at      REAL
);

CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_pending ON tasks (namespace, priority DESC, run_after, seq) WHERE status = 'pending';
CREATE INDEX tasks_due ON tasks (namespace, run_after) WHERE status = 'pending';
CREATE INDEX tasks_leases ON tasks (namespace, lease_expires) WHERE status = 'running';
CREATE INDEX tasks_created ON tasks (namespace, created_at);
