-- Tasks: one row per task; the attempt history lives in `errors` (a JSON array).
-- Times are Unix seconds (double precision), as in every backend.

-- The store's clock: the transaction's start time, unless a test froze it for this session.
CREATE FUNCTION treadle_now() RETURNS double precision
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('treadle.now', true), '')::double precision,
                          extract(epoch FROM now())::double precision) $$;

CREATE TABLE tasks (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               text    NOT NULL UNIQUE,
    namespace        text    NOT NULL,
    name             text    NOT NULL,
    status           text    NOT NULL
                     CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    args             jsonb   NOT NULL DEFAULT '[]',
    kwargs           jsonb   NOT NULL DEFAULT '{}',
    priority         integer NOT NULL DEFAULT 0,
    run_after        double precision NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 1,
    retry_policy     jsonb   NOT NULL DEFAULT '{}',
    timeout_seconds  double precision,
    idempotency_key  text,
    metadata         jsonb   NOT NULL DEFAULT '{}',
    lease_token      text,
    lease_expires    double precision,
    worker_id        text,
    cancel_requested boolean NOT NULL DEFAULT false,
    progress         jsonb,
    result           jsonb,
    error            jsonb,
    errors           jsonb   NOT NULL DEFAULT '[]',
    created_at       double precision NOT NULL,
    updated_at       double precision NOT NULL,
    started_at       double precision,
    finished_at      double precision
);

CREATE UNIQUE INDEX tasks_idempotency_key ON tasks (namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_pending ON tasks (namespace, priority DESC, run_after, seq) WHERE status = 'pending';
CREATE INDEX tasks_due ON tasks (namespace, run_after) WHERE status = 'pending';
CREATE INDEX tasks_leases ON tasks (namespace, lease_expires) WHERE status = 'running';
CREATE INDEX tasks_created ON tasks (namespace, created_at);
