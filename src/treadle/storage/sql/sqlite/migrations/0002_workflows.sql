-- Durable orchestrations. An instance runs executions (continue-as-new starts the next one);
-- each execution has an append-only history. New inputs (activity results, timers, raised
-- events, queue messages, children's ends) wait in the inbox until a decision consumes them.
CREATE TABLE wf_instances (
    namespace             TEXT    NOT NULL,
    instance_id           TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    uid                   TEXT    NOT NULL,  -- one per incarnation: an id reused after a delete is a new instance
    status                TEXT    NOT NULL
                          CHECK (status IN ('running', 'completed', 'failed', 'terminated')),
    execution             INTEGER NOT NULL DEFAULT 1,
    input                 TEXT,
    output                TEXT,
    error                 TEXT,
    custom_status         TEXT,
    custom_status_version INTEGER NOT NULL DEFAULT 0,
    decision_gen          INTEGER NOT NULL DEFAULT 0,
    parent_instance_id    TEXT,
    parent_execution      INTEGER,
    parent_seq            INTEGER,
    created_at            REAL    NOT NULL,
    updated_at            REAL    NOT NULL,
    finished_at           REAL,
    PRIMARY KEY (namespace, instance_id)
);
CREATE INDEX wf_instances_parent ON wf_instances (namespace, parent_instance_id);
CREATE INDEX wf_instances_created ON wf_instances (namespace, created_at);

CREATE TABLE wf_history (
    namespace   TEXT    NOT NULL,
    instance_id TEXT    NOT NULL,
    execution   INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    at          REAL    NOT NULL,
    PRIMARY KEY (namespace, instance_id, execution, position)
);

CREATE TABLE wf_inbox (
    seq         INTEGER PRIMARY KEY,
    namespace   TEXT    NOT NULL,
    instance_id TEXT    NOT NULL,
    execution   INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    at          REAL    NOT NULL
);
CREATE INDEX wf_inbox_instance ON wf_inbox (namespace, instance_id, seq);

ALTER TABLE tasks ADD COLUMN wf_instance TEXT;
ALTER TABLE tasks ADD COLUMN wf_execution INTEGER;
ALTER TABLE tasks ADD COLUMN wf_seq INTEGER;
CREATE INDEX tasks_wf ON tasks (namespace, wf_instance, wf_execution, wf_seq) WHERE wf_instance IS NOT NULL;
