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
      AND (session_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM sessions s WHERE s.namespace = tasks.namespace AND s.session_id = tasks.session_id
            AND s.worker_id <> :worker_id AND s.lease_expires >= :now))
    ORDER BY priority DESC, run_after, seq
    LIMIT :limit
)
RETURNING id, namespace, name, args, kwargs, attempts, max_attempts, retry_policy, timeout_seconds,
          metadata, priority, lease_token, lease_expires, wf_instance, session_id;

-- name: claim_task
-- One task by id (a runner handed this id), on the same conditions as `claim` but for the name.
UPDATE tasks
SET status = 'running', attempts = attempts + 1, lease_token = lower(hex(randomblob(16))),
    lease_expires = :now + :lease_seconds, worker_id = :worker_id, started_at = :now, updated_at = :now
WHERE id = :id AND namespace = :namespace AND status = 'pending' AND run_after <= :now
  AND (session_id IS NULL OR NOT EXISTS (
      SELECT 1 FROM sessions s WHERE s.namespace = tasks.namespace AND s.session_id = tasks.session_id
        AND s.worker_id <> :worker_id AND s.lease_expires >= :now))
RETURNING id, namespace, name, args, kwargs, attempts, max_attempts, retry_policy, timeout_seconds,
          metadata, priority, lease_token, lease_expires, wf_instance, session_id;

-- name: any_due
SELECT 1 FROM tasks
WHERE namespace = :namespace AND status = 'pending' AND run_after <= :now AND /*name_filter*/
      AND (session_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM sessions s WHERE s.namespace = tasks.namespace AND s.session_id = tasks.session_id
            AND s.worker_id <> :worker_id AND s.lease_expires >= :now))
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
  AND lease_expires >= :now
RETURNING id, namespace, name, status, result, error, wf_instance, wf_execution, wf_seq;

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
  AND lease_expires >= :now
RETURNING id, namespace, name, status, result, error, wf_instance, wf_execution, wf_seq;

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
  AND lease_expires >= :now
RETURNING id, namespace, name, status, result, error, wf_instance, wf_execution, wf_seq;

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
WHERE id = :id AND status = 'running' AND lease_token = :token AND lease_expires < :now
RETURNING id, namespace, name, status, result, error, wf_instance, wf_execution, wf_seq;

-- name: get
SELECT * FROM tasks WHERE namespace = :namespace AND id = :id;

-- name: cancel_pending
UPDATE tasks SET status = 'cancelled', finished_at = :now, updated_at = :now
WHERE namespace = :namespace AND id = :id AND status = 'pending'
RETURNING id, namespace, name, status, result, error, wf_instance, wf_execution, wf_seq;

-- name: cancel_running
UPDATE tasks SET cancel_requested = 1, updated_at = :now
WHERE namespace = :namespace AND id = :id AND status = 'running';

-- name: redrive
UPDATE tasks
SET status = 'pending', attempts = 0, run_after = :now, cancel_requested = 0, result = NULL,
    finished_at = NULL, worker_id = NULL, progress = NULL, updated_at = :now
WHERE namespace = :namespace AND id = :id AND status IN ('failed', 'cancelled');

-- ---------------------------------------------------------------- orchestrations
-- Every wf_* query has the same name and parameters in each dialect: the multi-step logic is
-- written once, in storage/wf_steps.py. JSON travels as text.

-- name: wf_lock_instance
SELECT * FROM wf_instances WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_lock_for_decision
-- `deciding`: a decision task of the current generation exists (see `wf_steps.decision_key`);
-- `busy`: some task of the instance is still open (pending or running); `events`, when neither
-- holds (it may be decided at once): the current execution's history and pending inbox as
-- `wf_load_instance` gives them.
SELECT i.*, :now AS now, f.deciding, f.busy,
       CASE WHEN NOT f.deciding AND NOT f.busy THEN
       (SELECT coalesce(json_group_array(json(e.x)), '[]')
        FROM (SELECT json_array(u.src, u.seq, u.kind, json(u.data)) AS x
              FROM (SELECT 'h' AS src, h.position AS seq, h.kind, h.data FROM wf_history h
                    WHERE h.namespace = i.namespace AND h.instance_id = i.instance_id AND h.execution = i.execution
                    UNION ALL
                    SELECT 'i', b.seq, b.kind, b.data FROM wf_inbox b
                    WHERE b.namespace = i.namespace AND b.instance_id = i.instance_id AND b.execution = i.execution) u
              ORDER BY u.src, u.seq) e)
       END AS events
FROM wf_instances i,
     (SELECT EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = :namespace
                     AND t.idempotency_key = 'wf-d:' || j.uid || ':' || j.decision_gen) AS deciding,
             EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = :namespace AND t.wf_instance = :instance_id
                     AND t.status IN ('pending', 'running')) AS busy
      FROM wf_instances j WHERE j.namespace = :namespace AND j.instance_id = :instance_id) f
WHERE i.namespace = :namespace AND i.instance_id = :instance_id;

-- name: wf_append_history
-- `events` is a JSON array of [kind, data as JSON text], appended at positions start+1, start+2, ...
INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
SELECT :namespace, :instance_id, :execution, :start + e.key + 1, json_extract(e.value, '$[0]'),
       json_extract(e.value, '$[1]'), :now
FROM json_each(:events) AS e;

-- name: wf_load_instance
-- The instance with its current execution's history and pending inbox (`events`): one statement,
-- so one snapshot. `events` is a JSON array of [src, seq, kind, data]: the history ('h', by
-- position), then the inbox ('i', by seq).
SELECT i.*, :now AS now,
       (SELECT coalesce(json_group_array(json(e.x)), '[]')
        FROM (SELECT json_array(u.src, u.seq, u.kind, json(u.data)) AS x
              FROM (SELECT 'h' AS src, h.position AS seq, h.kind, h.data FROM wf_history h
                    WHERE h.namespace = i.namespace AND h.instance_id = i.instance_id AND h.execution = i.execution
                    UNION ALL
                    SELECT 'i', b.seq, b.kind, b.data FROM wf_inbox b
                    WHERE b.namespace = i.namespace AND b.instance_id = i.instance_id AND b.execution = i.execution) u
              ORDER BY u.src, u.seq) e) AS events
FROM wf_instances i WHERE i.namespace = :namespace AND i.instance_id = :instance_id;

-- name: wf_history_length
SELECT count(*) AS n FROM wf_history
WHERE namespace = :namespace AND instance_id = :instance_id AND execution = :execution;

-- name: wf_history
SELECT position, kind, data, at FROM wf_history
WHERE namespace = :namespace AND instance_id = :instance_id AND execution = :execution
ORDER BY position;

-- name: wf_inbox
SELECT seq, kind, data FROM wf_inbox
WHERE namespace = :namespace AND instance_id = :instance_id AND execution = :execution
ORDER BY seq;

-- name: wf_inbox_add
INSERT INTO wf_inbox (namespace, instance_id, execution, kind, data, at)
VALUES (:namespace, :instance_id, :execution, :kind, :data, :now);

-- name: wf_inbox_consume
DELETE FROM wf_inbox
WHERE namespace = :namespace AND instance_id = :instance_id AND execution = :execution AND seq <= :upto;

-- name: wf_inbox_drop
DELETE FROM wf_inbox WHERE namespace = :namespace AND instance_id = :instance_id AND execution = :execution;

-- name: wf_end
-- A decision that ends its execution: its history appended (as `wf_append_history`), the execution's
-- inbox dropped, the instance finished. Three statements, run in turn (`-- then`).
INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
SELECT :namespace, :instance_id, :execution, :start + e.key + 1, json_extract(e.value, '$[0]'),
       json_extract(e.value, '$[1]'), :now
FROM json_each(:events) AS e;
-- then
DELETE FROM wf_inbox WHERE namespace = :namespace AND instance_id = :instance_id AND execution = :execution;
-- then
UPDATE wf_instances
SET status = :status, output = :output, error = :error, decision_gen = decision_gen + 1,
    custom_status = :custom_status, custom_status_version = custom_status_version + :status_changed,
    finished_at = :now, updated_at = :now
WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_set_new_execution
UPDATE wf_instances
SET execution = execution + 1, input = :input, decision_gen = decision_gen + 1, custom_status = :custom_status,
    custom_status_version = custom_status_version + :status_changed, updated_at = :now
WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_finish_decision
UPDATE tasks
SET status = 'succeeded', result = 'null', lease_token = NULL, lease_expires = NULL,
    finished_at = :now, updated_at = :now
WHERE id = :id AND status = 'running' AND lease_token = :token AND attempts = :attempt
  AND lease_expires >= :now;

-- name: wf_start_instance
-- A new instance with its first history event (`kind`, `data`) and its first decision task (`tasks`:
-- a JSON array of one `wf_steps.task_record`, leased at birth where `lease_token` is set); nothing
-- if the id is taken (each later statement goes on only if the one before inserted its row). Returns
-- the new row, with `decision_lease_expires` if the decision task was leased at birth.
INSERT INTO wf_instances (namespace, instance_id, name, uid, status, execution, input, parent_instance_id,
                          parent_execution, parent_seq, created_at, updated_at)
VALUES (:namespace, :instance_id, :name, :uid, 'running', 1, :input, :parent_instance_id, :parent_execution,
        :parent_seq, :now, :now)
ON CONFLICT DO NOTHING;
-- then
INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
SELECT :namespace, :instance_id, 1, 1, :kind, :data, :now WHERE changes() = 1;
-- then
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                   wf_instance, wf_execution, wf_seq, session_id, attempts, lease_token, lease_expires,
                   worker_id, started_at)
SELECT x.value ->> '$.id', x.value ->> '$.namespace', x.value ->> '$.name',
       CASE WHEN x.value ->> '$.lease_token' IS NULL THEN 'pending' ELSE 'running' END,
       x.value -> '$.args', x.value -> '$.kwargs', x.value ->> '$.priority',
       coalesce(x.value ->> '$.run_at', :now), x.value ->> '$.max_attempts', x.value -> '$.retry_policy',
       x.value ->> '$.timeout_seconds', x.value ->> '$.idempotency_key', x.value -> '$.metadata', :now, :now,
       x.value ->> '$.wf_instance', x.value ->> '$.wf_execution', x.value ->> '$.wf_seq',
       x.value ->> '$.session_id', CASE WHEN x.value ->> '$.lease_token' IS NULL THEN 0 ELSE 1 END,
       x.value ->> '$.lease_token',
       CASE WHEN x.value ->> '$.lease_token' IS NOT NULL THEN :now + (x.value ->> '$.lease_seconds') END,
       x.value ->> '$.worker_id', CASE WHEN x.value ->> '$.lease_token' IS NOT NULL THEN :now END
FROM json_each(:tasks) AS x WHERE changes() = 1
ON CONFLICT DO NOTHING;
-- then
SELECT i.*, (SELECT t.lease_expires FROM tasks t, json_each(:tasks) AS x
             WHERE t.id = x.value ->> '$.id' AND t.lease_token = x.value ->> '$.lease_token') AS decision_lease_expires
FROM wf_instances i WHERE i.namespace = :namespace AND i.instance_id = :instance_id AND i.uid = :uid;

-- name: wf_advance
-- A decision that keeps its execution running: its history appended (as `wf_append_history`),
-- its tasks inserted (as `wf_insert_task`, or as `wf_insert_claimed_task` where `lease_token` is
-- set) and the instance's generation bumped (with its custom status). `tasks` is a JSON array of
-- `wf_steps.task_record`s. Three statements, run in turn (`-- then`); the last returns the tasks
-- it inserted (one whose idempotency key exists is not).
INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
SELECT :namespace, :instance_id, :execution, :start + e.key + 1, json_extract(e.value, '$[0]'),
       json_extract(e.value, '$[1]'), :now
FROM json_each(:events) AS e;
-- then
UPDATE wf_instances
SET decision_gen = decision_gen + 1, custom_status = :custom_status,
    custom_status_version = custom_status_version + :status_changed, updated_at = :now
WHERE namespace = :namespace AND instance_id = :instance_id;
-- then
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                   wf_instance, wf_execution, wf_seq, session_id, attempts, lease_token, lease_expires,
                   worker_id, started_at)
SELECT x.value ->> '$.id', x.value ->> '$.namespace', x.value ->> '$.name',
       CASE WHEN x.value ->> '$.lease_token' IS NULL THEN 'pending' ELSE 'running' END,
       x.value -> '$.args', x.value -> '$.kwargs', x.value ->> '$.priority',
       coalesce(x.value ->> '$.run_at', :now), x.value ->> '$.max_attempts', x.value -> '$.retry_policy',
       x.value ->> '$.timeout_seconds', x.value ->> '$.idempotency_key', x.value -> '$.metadata', :now, :now,
       x.value ->> '$.wf_instance', x.value ->> '$.wf_execution', x.value ->> '$.wf_seq',
       x.value ->> '$.session_id', CASE WHEN x.value ->> '$.lease_token' IS NULL THEN 0 ELSE 1 END,
       x.value ->> '$.lease_token',
       CASE WHEN x.value ->> '$.lease_token' IS NOT NULL THEN :now + (x.value ->> '$.lease_seconds') END,
       x.value ->> '$.worker_id', CASE WHEN x.value ->> '$.lease_token' IS NOT NULL THEN :now END
FROM json_each(:tasks) AS x WHERE true
ON CONFLICT DO NOTHING
RETURNING id, lease_token, lease_expires;

-- name: wf_insert_task
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                   wf_instance, wf_execution, wf_seq, session_id)
VALUES (:id, :namespace, :name, 'pending', :args, :kwargs, :priority, coalesce(:run_at, :now), :max_attempts,
        :retry_policy, :timeout_seconds, :idempotency_key, :metadata, :now, :now,
        :wf_instance, :wf_execution, :wf_seq, :session_id)
ON CONFLICT DO NOTHING;

-- name: wf_insert_claimed_task
-- A task leased at birth to the worker whose transaction made it (see `Handoff`).
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                   wf_instance, wf_execution, wf_seq, session_id, attempts, lease_token, lease_expires,
                   worker_id, started_at)
VALUES (:id, :namespace, :name, 'running', :args, :kwargs, :priority, :now, :max_attempts,
        :retry_policy, :timeout_seconds, :idempotency_key, :metadata, :now, :now,
        :wf_instance, :wf_execution, :wf_seq, :session_id, 1, :lease_token, :now + :lease_seconds,
        :worker_id, :now)
ON CONFLICT DO NOTHING
RETURNING lease_expires;

-- name: wf_open_tasks
SELECT id, status FROM tasks
WHERE namespace = :namespace AND wf_instance = :instance_id AND status IN ('pending', 'running')
  AND (:seq IS NULL OR (wf_execution = :execution AND wf_seq = :seq));

-- name: wf_cancel_pending_task
UPDATE tasks SET status = 'cancelled', finished_at = :now, updated_at = :now WHERE id = :id AND status = 'pending'
RETURNING id, namespace, name, status, result, error, wf_instance, wf_execution, wf_seq;

-- name: wf_cancel_running_task
UPDATE tasks SET cancel_requested = 1, updated_at = :now WHERE id = :id AND status = 'running';

-- name: wf_terminate
UPDATE wf_instances
SET status = 'terminated', error = :error, decision_gen = decision_gen + 1, finished_at = :now, updated_at = :now
WHERE namespace = :namespace AND instance_id = :instance_id AND status = 'running';

-- name: wf_children
SELECT instance_id FROM wf_instances WHERE namespace = :namespace AND parent_instance_id = :instance_id;

-- name: wf_executions
SELECT DISTINCT execution FROM wf_history
WHERE namespace = :namespace AND instance_id = :instance_id ORDER BY execution;

-- name: wf_delete_history
DELETE FROM wf_history WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_delete_inbox
DELETE FROM wf_inbox WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_delete_tasks
DELETE FROM tasks WHERE namespace = :namespace AND wf_instance = :instance_id;

-- name: wf_delete_instance
DELETE FROM wf_instances WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_prune
DELETE FROM wf_history
WHERE namespace = :namespace AND instance_id = :instance_id AND execution <= :below;

-- name: wf_status_counts
SELECT status, count(*) AS n FROM wf_instances WHERE namespace = :namespace GROUP BY status;

-- name: wf_task_counts
SELECT name, status, count(*) AS n FROM tasks
WHERE namespace = :namespace AND status IN ('pending', 'running') GROUP BY name, status;

-- name: wf_get
SELECT * FROM wf_instances WHERE namespace = :namespace AND instance_id = :instance_id;

-- name: wf_list
SELECT * FROM wf_instances
WHERE namespace = :namespace AND (:name IS NULL OR name = :name) AND (:status IS NULL OR status = :status)
ORDER BY created_at DESC, instance_id
LIMIT :limit OFFSET :offset;

-- name: own_session
INSERT INTO sessions (namespace, session_id, worker_id, lease_expires)
VALUES (:namespace, :session_id, :worker_id, :now + :lease_seconds)
ON CONFLICT (namespace, session_id) DO UPDATE SET worker_id = excluded.worker_id, lease_expires = excluded.lease_expires
WHERE sessions.worker_id = excluded.worker_id OR sessions.lease_expires < :now;

-- name: renew_sessions
UPDATE sessions SET lease_expires = :now + :lease_seconds WHERE namespace = :namespace AND worker_id = :worker_id;

-- name: drop_sessions
DELETE FROM sessions WHERE namespace = :namespace AND worker_id = :worker_id;

-- name: credential_add
INSERT INTO credentials (kind, name, namespace, secret, key_hash, created_at)
VALUES (:kind, :name, :namespace, :secret, :key_hash, :now)
ON CONFLICT (kind, name) DO UPDATE SET namespace = excluded.namespace, secret = excluded.secret,
    key_hash = excluded.key_hash, created_at = excluded.created_at, revoked_at = NULL
WHERE credentials.revoked_at IS NOT NULL;

-- name: credential_get
SELECT * FROM credentials WHERE kind = :kind AND name = :name;

-- name: credential_by_key
SELECT * FROM credentials WHERE key_hash = :key_hash;

-- name: credential_list
SELECT kind, name, namespace, created_at, revoked_at FROM credentials ORDER BY kind, name;

-- name: credential_revoke
UPDATE credentials SET revoked_at = :now WHERE kind = :kind AND name = :name AND revoked_at IS NULL;

-- name: credential_revoked_since
SELECT kind, name FROM credentials WHERE revoked_at IS NOT NULL AND revoked_at >= :since;

-- name: nonce_use
INSERT INTO auth_nonces (worker_id, nonce, seen_at) VALUES (:worker_id, :nonce, :now)
ON CONFLICT (worker_id, nonce) DO NOTHING;

-- name: nonce_prune
DELETE FROM auth_nonces WHERE seen_at < :before;

-- name: queue_depths
SELECT namespace, name, status, count(*) AS n FROM tasks WHERE status IN ('pending', 'running')
GROUP BY namespace, name, status;
