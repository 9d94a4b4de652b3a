-- Named queries for the SQLite backend. `/*name_filter*/` is replaced by a generated
-- `(name IN (?, ...) OR name GLOB ? ...)` clause; every value is a bound parameter.

-- name: insert_task
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at)
VALUES (:id, :namespace, :name, 'pending', :args, :kwargs, :priority, :run_after, :max_attempts,
        :retry_policy, :timeout_seconds, :idempotency_key, :metadata, :now, :now)
ON CONFLICT DO NOTHING;

-- name: existing_task
-- The task a conflicting insert met: the same id (a retried submission) or the same idempotency key.
SELECT id FROM tasks
WHERE id = :id OR (namespace = :namespace AND idempotency_key = :idempotency_key)
ORDER BY id = :id DESC
LIMIT 1;

-- name: claim
UPDATE tasks
SET status = 'running', attempts = attempts + 1, lease_token = lower(hex(randomblob(16))),
    lease_expires = :now + :lease_seconds, worker_id = :worker_id, started_at = :now, updated_at = :now
WHERE seq IN (
    SELECT seq FROM tasks
    -- `+run_after` keeps SQLite on tasks_pending (already in claim order) instead of sorting all due rows
    WHERE namespace = :namespace AND status = 'pending' AND +run_after <= :now AND /*name_filter*/
    ORDER BY priority DESC, run_after, seq
    LIMIT :limit
)
RETURNING id, namespace, name, args, kwargs, attempts, max_attempts, retry_policy, timeout_seconds,
          metadata, priority, lease_token, lease_expires;

-- name: any_due
SELECT 1 FROM tasks
WHERE namespace = :namespace AND status = 'pending' AND run_after <= :now AND /*name_filter*/
LIMIT 1;

-- name: next_due
SELECT min(run_after) FROM tasks
WHERE namespace = :namespace AND status = 'pending' AND run_after > :now AND /*name_filter*/;

-- name: renew
UPDATE tasks SET lease_expires = max(lease_expires, :now + :lease_seconds), updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now
RETURNING cancel_requested, lease_expires;

-- name: lease_state
SELECT cancel_requested, lease_expires FROM tasks
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now;

-- name: succeed
UPDATE tasks
SET status = 'succeeded', result = :result, lease_token = NULL, lease_expires = NULL,
    finished_at = :now, updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now;

-- name: fail
-- A retry is not scheduled when cancellation was requested meanwhile: the task ends cancelled.
UPDATE tasks
SET status = CASE WHEN cancel_requested AND :status = 'pending' THEN 'cancelled' ELSE :status END,
    error = coalesce(:error, error),
    errors = CASE WHEN :error IS NULL THEN errors ELSE json_insert(errors, '$[#]', json(:error)) END,
    run_after = CASE WHEN :status = 'pending' THEN :now + :retry_delay ELSE run_after END,
    lease_token = NULL, lease_expires = NULL,
    finished_at = CASE WHEN :status = 'pending' AND NOT cancel_requested THEN NULL ELSE :now END,
    updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now;

-- name: set_progress
UPDATE tasks SET progress = :progress, updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now;

-- name: release
UPDATE tasks
SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'pending' END,
    attempts = CASE WHEN cancel_requested THEN attempts ELSE attempts - 1 END,
    finished_at = CASE WHEN cancel_requested THEN :now ELSE NULL END,
    run_after = :now, lease_token = NULL, lease_expires = NULL, updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now;

-- name: any_expired
SELECT 1 FROM tasks WHERE namespace = :namespace AND status = 'running' AND lease_expires < :now LIMIT 1;

-- name: expired
SELECT id, attempts, retry_policy, cancel_requested, lease_token FROM tasks
WHERE namespace = :namespace AND status = 'running' AND lease_expires < :now
ORDER BY lease_expires
LIMIT :limit;

-- name: expire
UPDATE tasks
SET status = :status, error = :error, errors = json_insert(errors, '$[#]', json(:error)),
    run_after = CASE WHEN :status = 'pending' THEN :now + :retry_delay ELSE run_after END,
    lease_token = NULL, lease_expires = NULL,
    finished_at = CASE WHEN :status = 'pending' THEN NULL ELSE :now END, updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND lease_expires < :now;

-- name: get
SELECT * FROM tasks WHERE namespace = :namespace AND id = :id;

-- name: cancel_pending
UPDATE tasks SET status = 'cancelled', finished_at = :now, updated_at = :now
WHERE namespace = :namespace AND id = :id AND status = 'pending';

-- name: cancel_running
UPDATE tasks SET cancel_requested = 1, updated_at = :now
WHERE namespace = :namespace AND id = :id AND status = 'running';

-- name: redrive
UPDATE tasks
SET status = 'pending', attempts = 0, run_after = :now, cancel_requested = 0, result = NULL,
    finished_at = NULL, worker_id = NULL, progress = NULL, updated_at = :now
WHERE namespace = :namespace AND id = :id AND status IN ('failed', 'cancelled');
