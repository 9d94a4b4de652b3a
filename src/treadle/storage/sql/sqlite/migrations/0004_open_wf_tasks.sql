-- An orchestration's open tasks, found without visiting its finished ones: whether an instance
-- has work in flight is asked each time one of its activities finishes (`wf_lock_for_decision`).
CREATE INDEX tasks_wf_open ON tasks (namespace, wf_instance)
    WHERE wf_instance IS NOT NULL AND status IN ('pending', 'running');
