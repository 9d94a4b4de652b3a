-- An orchestration's open tasks, found without visiting its finished ones: whether an instance
-- has work in flight is asked each time one of its activities finishes (`wf_lock_for_decision`).
CREATE INDEX tasks_wf_open ON tasks (namespace, wf_instance)
    WHERE wf_instance IS NOT NULL AND status IN ('pending', 'running');

-- Secondary indexes of wf_instances no longer lead with `namespace`: on a table not analyzed
-- yet (its first minute), the planner could not tell them from the primary key for a lookup
-- by id, and picked one that scans the whole namespace under the row lock.
DROP INDEX wf_instances_parent;
DROP INDEX wf_instances_created;
CREATE INDEX wf_instances_parent ON wf_instances (parent_instance_id, namespace);
CREATE INDEX wf_instances_created ON wf_instances (created_at);
