-- Durable orchestrations. An instance runs executions (continue-as-new starts the next one);
-- each execution has an append-only history. New inputs (activity results, timers, raised
-- events, queue messages, children's ends) wait in the inbox until a decision consumes them.
CREATE TABLE wf_instances (
    namespace             text    NOT NULL,
    instance_id           text    NOT NULL,
    name                  text    NOT NULL,
    uid                   text    NOT NULL,  -- one per incarnation: an id reused after a delete is a new instance
    status                text    NOT NULL
                          CHECK (status IN ('running', 'completed', 'failed', 'terminated')),
    execution             integer NOT NULL DEFAULT 1,
    input                 text,
    output                text,
    error                 text,
    custom_status         text,
    custom_status_version integer NOT NULL DEFAULT 0,
    decision_gen          integer NOT NULL DEFAULT 0,
    parent_instance_id    text,
    parent_execution      integer,
    parent_seq            integer,
    created_at            double precision NOT NULL,
    updated_at            double precision NOT NULL,
    finished_at           double precision,
    PRIMARY KEY (namespace, instance_id)
);
CREATE INDEX wf_instances_parent ON wf_instances (namespace, parent_instance_id);
CREATE INDEX wf_instances_created ON wf_instances (namespace, created_at);

CREATE TABLE wf_history (
    namespace   text    NOT NULL,
    instance_id text    NOT NULL,
    execution   integer NOT NULL,
    position    integer NOT NULL,
    kind        text    NOT NULL,
    data        text    NOT NULL,
    at          double precision NOT NULL,
    PRIMARY KEY (namespace, instance_id, execution, position)
);

CREATE TABLE wf_inbox (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace   text    NOT NULL,
    instance_id text    NOT NULL,
    execution   integer NOT NULL,
    kind        text    NOT NULL,
    data        text    NOT NULL,
    at          double precision NOT NULL
);
CREATE INDEX wf_inbox_instance ON wf_inbox (namespace, instance_id, seq);

ALTER TABLE tasks ADD COLUMN wf_instance text;
ALTER TABLE tasks ADD COLUMN wf_execution integer;
ALTER TABLE tasks ADD COLUMN wf_seq integer;
CREATE INDEX tasks_wf ON tasks (namespace, wf_instance, wf_execution, wf_seq) WHERE wf_instance IS NOT NULL;
