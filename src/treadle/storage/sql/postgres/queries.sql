-- Named queries for the PostgreSQL backend (psycopg named parameters). Name filters are
-- `(name = ANY(%(names)s::text[]) OR name LIKE ANY(%(likes)s::text[]))`: exact names and LIKE patterns as
-- `text[]` literals.
-- treadle_now() is the store's clock (see migration 0001).

-- name: insert_task
-- One statement, one commit: the notification leaves with the insert.
WITH inserted AS (
    INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                       retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at)
    VALUES (%(id)s, %(namespace)s, %(name)s, 'pending', %(args)s::jsonb, %(kwargs)s::jsonb, %(priority)s,
            coalesce(%(run_at)s::double precision, treadle_now() + %(delay)s), %(max_attempts)s,
            %(retry_policy)s::jsonb, %(timeout_seconds)s, %(idempotency_key)s, %(metadata)s::jsonb,
            treadle_now(), treadle_now())
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT id, pg_notify(%(channel)s, %(payload)s) FROM inserted;

-- name: existing_task
SELECT id FROM tasks
WHERE id = %(id)s OR (namespace = %(namespace)s AND idempotency_key = %(idempotency_key)s)
ORDER BY (id = %(id)s) DESC
LIMIT 1;

-- name: claim
-- Lease up to `limit` due tasks and tell when the next delayed one is due, in one round trip: a row
-- per claimed task, each with `next_due`; with nothing claimed, one row of NULLs but `next_due`.
WITH picked AS (
    SELECT seq FROM tasks
    WHERE namespace = %(namespace)s AND status = 'pending' AND run_after <= treadle_now()
      AND (name = ANY(%(names)s::text[]) OR name LIKE ANY(%(likes)s::text[]))
      AND (session_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM sessions s WHERE s.namespace = tasks.namespace AND s.session_id = tasks.session_id
            AND s.worker_id <> %(worker_id)s AND s.lease_expires >= treadle_now()))
    ORDER BY priority DESC, run_after, seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE tasks t
    SET status = 'running', attempts = t.attempts + 1, lease_token = replace(gen_random_uuid()::text, '-', ''),
        lease_expires = treadle_now() + %(lease_seconds)s, worker_id = %(worker_id)s,
        started_at = treadle_now(), updated_at = treadle_now()
    FROM picked
    WHERE t.seq = picked.seq
    RETURNING t.id, t.namespace, t.name, t.args, t.kwargs, t.attempts, t.max_attempts, t.retry_policy,
              t.timeout_seconds, t.metadata, t.priority, t.lease_token, t.lease_expires, t.wf_instance, t.session_id
), due AS (
    SELECT min(run_after) AS next_due FROM tasks
    WHERE namespace = %(namespace)s AND status = 'pending' AND run_after > treadle_now()
      AND (name = ANY(%(names)s::text[]) OR name LIKE ANY(%(likes)s::text[]))
)
SELECT claimed.*, due.next_due FROM due LEFT JOIN claimed ON true;

-- name: claim_task
-- One task by id (a runner handed this id), on the same conditions as `claim` but for the name.
UPDATE tasks t
SET status = 'running', attempts = t.attempts + 1, lease_token = replace(gen_random_uuid()::text, '-', ''),
    lease_expires = treadle_now() + %(lease_seconds)s, worker_id = %(worker_id)s,
    started_at = treadle_now(), updated_at = treadle_now()
WHERE t.id = %(id)s AND t.namespace = %(namespace)s AND t.status = 'pending' AND t.run_after <= treadle_now()
  AND (t.session_id IS NULL OR NOT EXISTS (
      SELECT 1 FROM sessions s WHERE s.namespace = t.namespace AND s.session_id = t.session_id
        AND s.worker_id <> %(worker_id)s AND s.lease_expires >= treadle_now()))
RETURNING t.id, t.namespace, t.name, t.args, t.kwargs, t.attempts, t.max_attempts, t.retry_policy,
          t.timeout_seconds, t.metadata, t.priority, t.lease_token, t.lease_expires, t.wf_instance, t.session_id;

-- name: renew
UPDATE tasks t SET lease_expires = greatest(t.lease_expires, treadle_now() + %(lease_seconds)s),
                   updated_at = treadle_now()
FROM (SELECT e->>0 AS id, e->>1 AS token, (e->>2)::int AS attempt
      FROM json_array_elements(%(leases)s::json) AS e) AS l
WHERE t.id = l.id AND t.status = 'running' AND t.lease_token = l.token AND t.attempts = l.attempt
  AND t.lease_expires >= treadle_now()
RETURNING t.id, t.cancel_requested, t.lease_expires;

-- name: lease_state
SELECT t.id, t.cancel_requested, t.lease_expires
FROM tasks t
JOIN (SELECT e->>0 AS id, e->>1 AS token, (e->>2)::int AS attempt
      FROM json_array_elements(%(leases)s::json) AS e) AS l
  ON t.id = l.id AND t.status = 'running' AND t.lease_token = l.token AND t.attempts = l.attempt
WHERE t.lease_expires >= treadle_now();

-- name: succeed
-- pg_notify with the same channel and payload is sent once per transaction, however many rows call it;
-- the channel names the kind of change (`storage/changes.py`), the payload the sending storage, whose
-- own listener ignores it (it woke its waiters already). The rows come back whole: a lease that did
-- not say it belongs to an orchestration (a remote worker's word) still reports to it.
WITH done AS (
    UPDATE tasks t
    SET status = 'succeeded', result = o.result::jsonb, lease_token = NULL, lease_expires = NULL,
        finished_at = treadle_now(), updated_at = treadle_now()
    FROM (SELECT e->>0 AS id, e->>1 AS token, (e->>2)::int AS attempt, e->>3 AS result
          FROM json_array_elements(%(leases)s::json) AS e) AS o
    WHERE t.id = o.id AND t.status = 'running' AND t.lease_token = o.token AND t.attempts = o.attempt
      AND t.lease_expires >= treadle_now()
    RETURNING t.id, t.namespace, t.name, t.status, o.result, t.error::text AS error, t.wf_instance, t.wf_execution,
              t.wf_seq
)
SELECT *, pg_notify(%(channel)s, %(payload)s) FROM done;

-- name: succeed_wf
-- `succeed` for tasks of orchestrations: their instances are locked in the same statement, in one
-- order for every transaction (byte order, as Python sorts), so that reporting the results to them
-- reads each instance and its history at once (`wf_lock_for_decision`).
WITH done AS (
    UPDATE tasks t
    SET status = 'succeeded', result = o.result::jsonb, lease_token = NULL, lease_expires = NULL,
        finished_at = treadle_now(), updated_at = treadle_now()
    FROM (SELECT e->>0 AS id, e->>1 AS token, (e->>2)::int AS attempt, e->>3 AS result
          FROM json_array_elements(%(leases)s::json) AS e) AS o
    WHERE t.id = o.id AND t.status = 'running' AND t.lease_token = o.token AND t.attempts = o.attempt
      AND t.lease_expires >= treadle_now()
    RETURNING t.id, t.namespace, t.name, t.status, o.result, t.error::text AS error, t.wf_instance, t.wf_execution,
              t.wf_seq
), locked AS (
    SELECT 1 FROM wf_instances i
    WHERE (i.namespace, i.instance_id) IN (SELECT namespace, wf_instance FROM done WHERE wf_instance IS NOT NULL)
    ORDER BY i.namespace COLLATE "C", i.instance_id COLLATE "C"
    FOR UPDATE OF i
)
SELECT done.*, pg_notify(%(channel)s, %(payload)s) FROM done, (SELECT count(*) FROM locked) AS l;

-- name: fail
-- A retry is not scheduled when cancellation was requested meanwhile: the task ends cancelled.
UPDATE tasks
SET status = CASE WHEN cancel_requested AND %(status)s = 'pending' THEN 'cancelled' ELSE %(status)s END,
    error = coalesce(%(error)s::jsonb, error),
    errors = CASE WHEN %(error)s::jsonb IS NULL THEN errors ELSE errors || jsonb_build_array(%(error)s::jsonb) END,
    run_after = CASE WHEN %(status)s = 'pending' THEN treadle_now() + %(retry_delay)s ELSE run_after END,
    lease_token = NULL, lease_expires = NULL,
    finished_at = CASE WHEN %(status)s = 'pending' AND NOT cancel_requested THEN NULL ELSE treadle_now() END,
    updated_at = treadle_now()
WHERE id = %(id)s AND status = 'running' AND lease_token = %(token)s AND attempts = %(attempt)s
  AND lease_expires >= treadle_now()
RETURNING id, namespace, name, status, result::text AS result, error::text AS error, wf_instance, wf_execution, wf_seq;

-- name: set_progress
UPDATE tasks SET progress = CASE WHEN %(progress)s::jsonb -> 'at' = 'null'::jsonb
                                 THEN jsonb_set(%(progress)s::jsonb, '{at}', to_jsonb(treadle_now()))
                                 ELSE %(progress)s::jsonb END,
                 updated_at = treadle_now()
WHERE id = %(id)s AND status = 'running' AND lease_token = %(token)s AND attempts = %(attempt)s
  AND lease_expires >= treadle_now()
RETURNING id;

-- name: release
UPDATE tasks t
SET status = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'pending' END,
    attempts = CASE WHEN t.cancel_requested THEN t.attempts ELSE t.attempts - 1 END,
    finished_at = CASE WHEN t.cancel_requested THEN treadle_now() ELSE NULL END,
    run_after = treadle_now(), lease_token = NULL, lease_expires = NULL, updated_at = treadle_now()
FROM (SELECT e->>0 AS id, e->>1 AS token, (e->>2)::int AS attempt
      FROM json_array_elements(%(leases)s::json) AS e) AS l
WHERE t.id = l.id AND t.status = 'running' AND t.lease_token = l.token AND t.attempts = l.attempt
  AND t.lease_expires >= treadle_now()
RETURNING t.id, t.namespace, t.name, t.status, t.result::text AS result, t.error::text AS error,
          t.wf_instance, t.wf_execution, t.wf_seq;

-- name: expired
SELECT id, attempts, retry_policy, cancel_requested, lease_token, treadle_now() AS now FROM tasks
WHERE namespace = %(namespace)s AND status = 'running' AND lease_expires < treadle_now()
ORDER BY lease_expires
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: expire
UPDATE tasks
SET status = %(status)s, error = %(error)s::jsonb, errors = errors || jsonb_build_array(%(error)s::jsonb),
    run_after = CASE WHEN %(status)s = 'pending' THEN treadle_now() + %(retry_delay)s ELSE run_after END,
    lease_token = NULL, lease_expires = NULL,
    finished_at = CASE WHEN %(status)s = 'pending' THEN NULL ELSE treadle_now() END, updated_at = treadle_now()
WHERE id = %(id)s AND status = 'running' AND lease_token = %(token)s AND lease_expires < treadle_now()
RETURNING id, namespace, name, status, result::text AS result, error::text AS error, wf_instance, wf_execution, wf_seq;

-- name: get
SELECT * FROM tasks WHERE namespace = %(namespace)s AND id = %(id)s;

-- name: cancel_pending
UPDATE tasks SET status = 'cancelled', finished_at = treadle_now(), updated_at = treadle_now()
WHERE namespace = %(namespace)s AND id = %(id)s AND status = 'pending'
RETURNING id, namespace, name, status, result::text AS result, error::text AS error, wf_instance, wf_execution, wf_seq;

-- name: cancel_running
UPDATE tasks SET cancel_requested = true, updated_at = treadle_now()
WHERE namespace = %(namespace)s AND id = %(id)s AND status = 'running'
RETURNING id;

-- name: redrive
UPDATE tasks
SET status = 'pending', attempts = 0, run_after = treadle_now(), cancel_requested = false, result = NULL,
    finished_at = NULL, worker_id = NULL, progress = NULL, updated_at = treadle_now()
WHERE namespace = %(namespace)s AND id = %(id)s AND status IN ('failed', 'cancelled')
RETURNING id;

-- ---------------------------------------------------------------- orchestrations
-- Every wf_* query has the same name and parameters in each dialect: the multi-step logic is
-- written once, in storage/wf_steps.py. JSON travels as text.

-- name: wf_lock_instance
SELECT * FROM wf_instances WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s FOR UPDATE;

-- name: wf_lock_for_decision
-- `deciding`: a decision task of the current generation exists (see `wf_steps.decision_key`);
-- `busy`: some task of the instance is still open (pending or running); `events`, when neither
-- holds (it may be decided at once): the current execution's history and pending inbox as
-- `wf_load_instance` gives them. The caller holds the instance's lock already (a statement that waits for
-- it reads the history of its own snapshot, which may predate the lock holder's commit).
SELECT i.*, treadle_now() AS now, f.deciding, f.busy,
       CASE WHEN NOT f.deciding AND NOT f.busy THEN
           (SELECT coalesce(json_agg(json_build_array(e.src, e.seq, e.kind, e.data::json) ORDER BY e.src, e.seq), '[]')::text
            FROM (SELECT 'h' AS src, h.position AS seq, h.kind, h.data FROM wf_history h
                  WHERE h.namespace = i.namespace AND h.instance_id = i.instance_id AND h.execution = i.execution
                  UNION ALL
                  SELECT 'i', b.seq, b.kind, b.data FROM wf_inbox b
                  WHERE b.namespace = i.namespace AND b.instance_id = i.instance_id AND b.execution = i.execution) e)
       END AS events
FROM wf_instances i
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = i.namespace
                   AND t.idempotency_key = 'wf-d:' || i.uid || ':' || i.decision_gen) AS deciding,
           EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = i.namespace AND t.wf_instance = i.instance_id
                   AND t.status IN ('pending', 'running')) AS busy) f
WHERE i.namespace = %(namespace)s AND i.instance_id = %(instance_id)s FOR UPDATE OF i;

-- name: wf_lock_for_decisions
-- `wf_lock_for_decision` for the instances of these tasks at once: sent right behind the `succeed_wf`
-- that locked them (so it reads them with a snapshot taken after the locks), in the same round trip.
SELECT i.*, treadle_now() AS now, f.deciding, f.busy,
       CASE WHEN NOT f.deciding AND NOT f.busy THEN
           (SELECT coalesce(json_agg(json_build_array(e.src, e.seq, e.kind, e.data::json) ORDER BY e.src, e.seq), '[]')::text
            FROM (SELECT 'h' AS src, h.position AS seq, h.kind, h.data FROM wf_history h
                  WHERE h.namespace = i.namespace AND h.instance_id = i.instance_id AND h.execution = i.execution
                  UNION ALL
                  SELECT 'i', b.seq, b.kind, b.data FROM wf_inbox b
                  WHERE b.namespace = i.namespace AND b.instance_id = i.instance_id AND b.execution = i.execution) e)
       END AS events
FROM wf_instances i
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = i.namespace
                   AND t.idempotency_key = 'wf-d:' || i.uid || ':' || i.decision_gen) AS deciding,
           EXISTS (SELECT 1 FROM tasks t WHERE t.namespace = i.namespace AND t.wf_instance = i.instance_id
                   AND t.status IN ('pending', 'running')) AS busy) f
WHERE (i.namespace, i.instance_id) IN (SELECT t.namespace, t.wf_instance FROM tasks t
                                       WHERE t.id = ANY(%(ids)s::text[]) AND t.wf_instance IS NOT NULL)
ORDER BY i.namespace COLLATE "C", i.instance_id COLLATE "C"
FOR UPDATE OF i;

-- name: wf_append_history
-- `events` is a JSON array of [kind, data as JSON text], appended at positions start+1, start+2, ...
INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
SELECT %(namespace)s, %(instance_id)s, %(execution)s, %(start)s + e.n, e.v ->> 0, e.v ->> 1, treadle_now()
FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(v, n);

-- name: wf_load_instance
-- The instance with its current execution's history and pending inbox (`events`): one statement,
-- so one snapshot. `events` is a JSON array of [src, seq, kind, data]: the history ('h', by
-- position), then the inbox ('i', by seq).
SELECT i.*, treadle_now() AS now,
       (SELECT coalesce(json_agg(json_build_array(e.src, e.seq, e.kind, e.data::json) ORDER BY e.src, e.seq), '[]')::text
        FROM (SELECT 'h' AS src, h.position AS seq, h.kind, h.data FROM wf_history h
              WHERE h.namespace = i.namespace AND h.instance_id = i.instance_id AND h.execution = i.execution
              UNION ALL
              SELECT 'i', b.seq, b.kind, b.data FROM wf_inbox b
              WHERE b.namespace = i.namespace AND b.instance_id = i.instance_id AND b.execution = i.execution) e)
       AS events
FROM wf_instances i WHERE i.namespace = %(namespace)s AND i.instance_id = %(instance_id)s;

-- name: wf_history_length
SELECT count(*) AS n FROM wf_history
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND execution = %(execution)s;

-- name: wf_history
SELECT position, kind, data, at FROM wf_history
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND execution = %(execution)s
ORDER BY position;

-- name: wf_inbox
SELECT seq, kind, data FROM wf_inbox
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND execution = %(execution)s
ORDER BY seq;

-- name: wf_inbox_add
INSERT INTO wf_inbox (namespace, instance_id, execution, kind, data, at)
VALUES (%(namespace)s, %(instance_id)s, %(execution)s, %(kind)s, %(data)s, treadle_now());

-- name: wf_inbox_consume
DELETE FROM wf_inbox
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND execution = %(execution)s AND seq <= %(upto)s;

-- name: wf_inbox_drop
DELETE FROM wf_inbox WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND execution = %(execution)s;

-- name: wf_end
-- A decision that ends its execution, in one statement: its history appended (as `wf_append_history`),
-- the execution's inbox dropped, the instance finished. Its output is a result, so the transaction's
-- commit waits for the WAL flush even on a connection that does not by default (an activity's finish
-- that decides its orchestration's end in place: see `wf_steps._decide_in_place`).
WITH durable AS (
    SELECT set_config('synchronous_commit', 'on', true) AS mode
), hist AS (
    INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
    SELECT %(namespace)s, %(instance_id)s, %(execution)s, %(start)s + e.n, e.v ->> 0, e.v ->> 1, treadle_now()
    FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(v, n)
), dropped AS (
    DELETE FROM wf_inbox WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s
                           AND execution = %(execution)s
)
UPDATE wf_instances
SET status = %(status)s, output = %(output)s, error = %(error)s, decision_gen = decision_gen + 1,
    custom_status = %(custom_status)s, custom_status_version = custom_status_version + %(status_changed)s,
    finished_at = treadle_now(), updated_at = treadle_now()
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND (SELECT mode FROM durable) = 'on';

-- name: wf_set_new_execution
UPDATE wf_instances
SET execution = execution + 1, input = %(input)s, decision_gen = decision_gen + 1, custom_status = %(custom_status)s,
    custom_status_version = custom_status_version + %(status_changed)s, updated_at = treadle_now()
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s;

-- name: wf_finish_decision
UPDATE tasks
SET status = 'succeeded', result = 'null'::jsonb, lease_token = NULL, lease_expires = NULL,
    finished_at = treadle_now(), updated_at = treadle_now()
WHERE id = %(id)s AND status = 'running' AND lease_token = %(token)s AND attempts = %(attempt)s
  AND lease_expires >= treadle_now();

-- name: wf_start_instance
-- A new instance with its first history event (`kind`, `data`) and its first decision task (`tasks`:
-- a JSON array of one `wf_steps.task_record`, leased at birth where `lease_token` is set), in one
-- statement; nothing if the id is taken. Returns the new row, with `decision_lease_expires` if the
-- decision task was leased at birth.
WITH created AS (
    INSERT INTO wf_instances (namespace, instance_id, name, uid, status, execution, input, parent_instance_id,
                              parent_execution, parent_seq, created_at, updated_at)
    VALUES (%(namespace)s, %(instance_id)s, %(name)s, %(uid)s, 'running', 1, %(input)s, %(parent_instance_id)s,
            %(parent_execution)s, %(parent_seq)s, treadle_now(), treadle_now())
    ON CONFLICT DO NOTHING
    RETURNING *
), hist AS (
    INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
    SELECT namespace, instance_id, 1, 1, %(kind)s, %(data)s, treadle_now() FROM created
), decision AS (
    INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                       retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                       wf_instance, wf_execution, wf_seq, session_id, attempts, lease_token, lease_expires,
                       worker_id, started_at)
    SELECT x.id, x.namespace, x.name, CASE WHEN x.lease_token IS NULL THEN 'pending' ELSE 'running' END,
           coalesce(x.args, 'null'), coalesce(x.kwargs, 'null'), x.priority, coalesce(x.run_at, treadle_now()),
           x.max_attempts, coalesce(x.retry_policy, 'null'), x.timeout_seconds, x.idempotency_key,
           coalesce(x.metadata, 'null'), treadle_now(), treadle_now(), x.wf_instance, x.wf_execution, x.wf_seq,
           x.session_id, CASE WHEN x.lease_token IS NULL THEN 0 ELSE 1 END, x.lease_token,
           CASE WHEN x.lease_token IS NOT NULL THEN treadle_now() + x.lease_seconds END, x.worker_id,
           CASE WHEN x.lease_token IS NOT NULL THEN treadle_now() END
    FROM created, jsonb_to_recordset(%(tasks)s::jsonb) AS x(
        id text, namespace text, name text, args jsonb, kwargs jsonb, priority integer, run_at double precision,
        max_attempts integer, retry_policy jsonb, timeout_seconds double precision, idempotency_key text,
        metadata jsonb, wf_instance text, wf_execution integer, wf_seq integer, session_id text,
        lease_token text, lease_seconds double precision, worker_id text)
    ON CONFLICT DO NOTHING
    RETURNING lease_token, lease_expires
)
SELECT c.*, (SELECT d.lease_expires FROM decision d WHERE d.lease_token IS NOT NULL) AS decision_lease_expires
FROM created c;

-- name: wf_advance
-- A decision that keeps its execution running, in one statement: its history appended (as
-- `wf_append_history`), its tasks inserted (as `wf_insert_task`, or as `wf_insert_claimed_task`
-- where `lease_token` is set) and the instance's generation bumped (with its custom status). `tasks`
-- is a JSON array of `wf_steps.task_record`s. Returns the tasks leased at birth that were inserted
-- (one whose idempotency key exists is not).
WITH hist AS (
    INSERT INTO wf_history (namespace, instance_id, execution, position, kind, data, at)
    SELECT %(namespace)s, %(instance_id)s, %(execution)s, %(start)s + e.n, e.v ->> 0, e.v ->> 1, treadle_now()
    FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(v, n)
), inst AS (
    UPDATE wf_instances
    SET decision_gen = decision_gen + 1, custom_status = %(custom_status)s,
        custom_status_version = custom_status_version + %(status_changed)s, updated_at = treadle_now()
    WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s
), ins AS (
    INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                       retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                       wf_instance, wf_execution, wf_seq, session_id, attempts, lease_token, lease_expires,
                       worker_id, started_at)
    SELECT x.id, x.namespace, x.name, CASE WHEN x.lease_token IS NULL THEN 'pending' ELSE 'running' END,
           coalesce(x.args, 'null'), coalesce(x.kwargs, 'null'), x.priority, coalesce(x.run_at, treadle_now()),
           x.max_attempts, coalesce(x.retry_policy, 'null'), x.timeout_seconds, x.idempotency_key,
           coalesce(x.metadata, 'null'), treadle_now(), treadle_now(), x.wf_instance, x.wf_execution, x.wf_seq,
           x.session_id, CASE WHEN x.lease_token IS NULL THEN 0 ELSE 1 END, x.lease_token,
           CASE WHEN x.lease_token IS NOT NULL THEN treadle_now() + x.lease_seconds END, x.worker_id,
           CASE WHEN x.lease_token IS NOT NULL THEN treadle_now() END
    FROM jsonb_to_recordset(%(tasks)s::jsonb) AS x(
        id text, namespace text, name text, args jsonb, kwargs jsonb, priority integer, run_at double precision,
        max_attempts integer, retry_policy jsonb, timeout_seconds double precision, idempotency_key text,
        metadata jsonb, wf_instance text, wf_execution integer, wf_seq integer, session_id text,
        lease_token text, lease_seconds double precision, worker_id text)
    ON CONFLICT DO NOTHING
    RETURNING id, lease_token, lease_expires
)
SELECT id, lease_token, lease_expires FROM ins WHERE lease_token IS NOT NULL;

-- name: wf_insert_task
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                   wf_instance, wf_execution, wf_seq, session_id)
VALUES (%(id)s, %(namespace)s, %(name)s, 'pending', %(args)s::jsonb, %(kwargs)s::jsonb, %(priority)s,
        coalesce(%(run_at)s::double precision, treadle_now()), %(max_attempts)s,
        %(retry_policy)s::jsonb, %(timeout_seconds)s, %(idempotency_key)s, %(metadata)s::jsonb, treadle_now(), treadle_now(),
        %(wf_instance)s, %(wf_execution)s, %(wf_seq)s, %(session_id)s)
ON CONFLICT DO NOTHING;

-- name: wf_insert_claimed_task
-- A task leased at birth to the worker whose transaction made it (see `Handoff`).
INSERT INTO tasks (id, namespace, name, status, args, kwargs, priority, run_after, max_attempts,
                   retry_policy, timeout_seconds, idempotency_key, metadata, created_at, updated_at,
                   wf_instance, wf_execution, wf_seq, session_id, attempts, lease_token, lease_expires,
                   worker_id, started_at)
VALUES (%(id)s, %(namespace)s, %(name)s, 'running', %(args)s::jsonb, %(kwargs)s::jsonb, %(priority)s,
        treadle_now(), %(max_attempts)s, %(retry_policy)s::jsonb, %(timeout_seconds)s, %(idempotency_key)s,
        %(metadata)s::jsonb, treadle_now(), treadle_now(), %(wf_instance)s, %(wf_execution)s, %(wf_seq)s,
        %(session_id)s, 1, %(lease_token)s, treadle_now() + %(lease_seconds)s, %(worker_id)s, treadle_now())
ON CONFLICT DO NOTHING
RETURNING lease_expires;

-- name: wf_open_tasks
SELECT id, status FROM tasks
WHERE namespace = %(namespace)s AND wf_instance = %(instance_id)s AND status IN ('pending', 'running')
  AND (%(seq)s::integer IS NULL OR (wf_execution = %(execution)s AND wf_seq = %(seq)s::integer));

-- name: wf_cancel_pending_task
UPDATE tasks SET status = 'cancelled', finished_at = treadle_now(), updated_at = treadle_now()
WHERE id = %(id)s AND status = 'pending'
RETURNING id, namespace, name, status, result::text AS result, error::text AS error, wf_instance, wf_execution, wf_seq;

-- name: wf_cancel_running_task
UPDATE tasks SET cancel_requested = true, updated_at = treadle_now() WHERE id = %(id)s AND status = 'running';

-- name: wf_terminate
UPDATE wf_instances
SET status = 'terminated', error = %(error)s, decision_gen = decision_gen + 1, finished_at = treadle_now(), updated_at = treadle_now()
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND status = 'running';

-- name: wf_children
SELECT instance_id FROM wf_instances WHERE namespace = %(namespace)s AND parent_instance_id = %(instance_id)s;

-- name: wf_executions
SELECT DISTINCT execution FROM wf_history
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s ORDER BY execution;

-- name: wf_delete_history
DELETE FROM wf_history WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s;

-- name: wf_delete_inbox
DELETE FROM wf_inbox WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s;

-- name: wf_delete_tasks
DELETE FROM tasks WHERE namespace = %(namespace)s AND wf_instance = %(instance_id)s;

-- name: wf_delete_instance
DELETE FROM wf_instances WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s;

-- name: wf_prune
DELETE FROM wf_history
WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s AND execution <= %(below)s;

-- name: wf_status_counts
SELECT status, count(*) AS n FROM wf_instances WHERE namespace = %(namespace)s GROUP BY status;

-- name: wf_task_counts
SELECT name, status, count(*) AS n FROM tasks
WHERE namespace = %(namespace)s AND status IN ('pending', 'running') GROUP BY name, status;

-- name: wf_get
SELECT * FROM wf_instances WHERE namespace = %(namespace)s AND instance_id = %(instance_id)s;

-- name: wf_list
SELECT * FROM wf_instances
WHERE namespace = %(namespace)s AND (%(name)s::text IS NULL OR name = %(name)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, instance_id
LIMIT %(limit)s OFFSET %(offset)s;

-- name: own_session
INSERT INTO sessions (namespace, session_id, worker_id, lease_expires)
VALUES (%(namespace)s, %(session_id)s, %(worker_id)s, treadle_now() + %(lease_seconds)s)
ON CONFLICT (namespace, session_id) DO UPDATE SET worker_id = excluded.worker_id, lease_expires = excluded.lease_expires
WHERE sessions.worker_id = excluded.worker_id OR sessions.lease_expires < treadle_now();

-- name: renew_sessions
UPDATE sessions SET lease_expires = treadle_now() + %(lease_seconds)s
WHERE namespace = %(namespace)s AND worker_id = %(worker_id)s;

-- name: drop_sessions
DELETE FROM sessions WHERE namespace = %(namespace)s AND worker_id = %(worker_id)s;

-- name: credential_add
INSERT INTO credentials (kind, name, namespace, secret, key_hash, created_at)
VALUES (%(kind)s, %(name)s, %(namespace)s, %(secret)s, %(key_hash)s, %(now)s)
ON CONFLICT (kind, name) DO UPDATE SET namespace = excluded.namespace, secret = excluded.secret,
    key_hash = excluded.key_hash, created_at = excluded.created_at, revoked_at = NULL
WHERE credentials.revoked_at IS NOT NULL;

-- name: credential_get
SELECT * FROM credentials WHERE kind = %(kind)s AND name = %(name)s;

-- name: credential_by_key
SELECT * FROM credentials WHERE key_hash = %(key_hash)s;

-- name: credential_list
SELECT kind, name, namespace, created_at, revoked_at FROM credentials ORDER BY kind, name;

-- name: credential_revoke
UPDATE credentials SET revoked_at = %(now)s WHERE kind = %(kind)s AND name = %(name)s AND revoked_at IS NULL;

-- name: credential_revoked_since
SELECT kind, name FROM credentials WHERE revoked_at IS NOT NULL AND revoked_at >= %(since)s;

-- name: nonce_use
INSERT INTO auth_nonces (worker_id, nonce, seen_at) VALUES (%(worker_id)s, %(nonce)s, %(now)s)
ON CONFLICT (worker_id, nonce) DO NOTHING;

-- name: nonce_prune
DELETE FROM auth_nonces WHERE seen_at < %(before)s;

-- name: queue_depths
SELECT namespace, name, status, count(*) AS n FROM tasks WHERE status IN ('pending', 'running')
GROUP BY namespace, name, status;
