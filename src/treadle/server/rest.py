"""The versioned REST API: everything a `Client` does, under `/v1/namespaces/{namespace}/...`.

Every route authenticates the caller (bearer API key), checks that the namespace in the URL
is the credential's, and calls the same storage verb a local client would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from ..core.records import InstanceInfo, TaskInfo
from ..core.routing import validate_name
from ..core.states import TaskStatus
from ..errors import InstanceNotFoundError
from ..storage.wire import dump_events
from ..workflow import history as h
from ..workflow_client import check_text
from . import submissions
from .auth import Principal
from .schemas import (
    Count,
    Event,
    EventRequest,
    Flag,
    PruneRequest,
    StartOrchestration,
    SubmitRequest,
    SubmitResponse,
    Submitted,
    TerminateRequest,
    WorkerView,
)

if TYPE_CHECKING:
    from .app import ServerState

NamespacePath = Annotated[str, Path(min_length=1, max_length=200, description="The credential's namespace.")]
IdPath = Annotated[str, Path(min_length=1, max_length=500)]


def _state(request: Request) -> ServerState:
    return request.app.state.treadle  # type: ignore[no-any-return]


async def caller(request: Request) -> Principal:
    """The authenticated client (FastAPI dependency)."""
    return await _state(request).auth.client(request.headers.get("authorization"))


Caller = Annotated[Principal, Depends(caller)]
router = APIRouter(prefix="/v1/namespaces/{namespace}")


@router.post("/tasks", response_model=SubmitResponse, status_code=201, tags=["tasks"])
async def submit(namespace: NamespacePath, body: SubmitRequest, request: Request, who: Caller) -> SubmitResponse:
    """Enqueue tasks in one transaction (all or none); an existing idempotency key returns its task."""
    stored = await submissions.submit(_state(request), who, namespace, body)
    return SubmitResponse(tasks=[Submitted(task_id=e.task_id, created=e.created) for e in stored])


@router.get("/tasks", response_model=list[TaskInfo], tags=["tasks"])
async def list_tasks(namespace: NamespacePath, request: Request, who: Caller,
                     status: Annotated[list[TaskStatus] | None, Query()] = None,
                     name: Annotated[str | None, Query(max_length=200, description="glob or LIKE pattern")] = None,
                     created_after: float | None = None, created_before: float | None = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                     offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[TaskInfo]:
    """Tasks, newest first, filtered by status (repeatable), name pattern and creation time."""
    from ..client import make_query

    query = make_query(status=status, name=name, created_after=created_after, created_before=created_before,
                       limit=limit, offset=offset)
    return await _state(request).storage.list(who.scope(namespace), query)


@router.get("/tasks/{task_id}", response_model=TaskInfo, tags=["tasks"])
async def get_task(namespace: NamespacePath, task_id: IdPath, request: Request, who: Caller,
                   wait: Annotated[float, Query(ge=0, le=60, description=(
                       "Seconds to wait for the task to finish before answering (a long poll); "
                       "the answer comes as soon as it finishes."))] = 0) -> TaskInfo:
    """One task: status, result or error, progress, attempts."""
    return await submissions.read_task(_state(request).storage, who.scope(namespace), task_id, wait)


@router.post("/tasks/{task_id}/cancel", response_model=TaskInfo, tags=["tasks"])
async def cancel_task(namespace: NamespacePath, task_id: IdPath, request: Request, who: Caller) -> TaskInfo:
    """Cancel a pending task at once, or ask a running one to stop."""
    return await _state(request).storage.cancel(who.scope(namespace), task_id)


@router.post("/tasks/{task_id}/retry", response_model=TaskInfo, tags=["tasks"])
async def retry_task(namespace: NamespacePath, task_id: IdPath, request: Request, who: Caller) -> TaskInfo:
    """Re-drive a failed or cancelled task with a fresh set of attempts."""
    return await _state(request).storage.redrive(who.scope(namespace), task_id)


@router.get("/workers", response_model=list[WorkerView], tags=["admin"])
async def list_workers(namespace: NamespacePath, request: Request, who: Caller) -> list[WorkerView]:
    """Workers connected to this server in this namespace, with their resource info and running tasks."""
    return await _state(request).workers(who.scope(namespace))


@router.get("/metrics", tags=["admin"])
async def system_metrics(namespace: NamespacePath, request: Request, who: Caller) -> dict[str, Any]:
    """Instances by status and pending/running tasks by name (queue depths)."""
    return await _state(request).workflows().wf_metrics(who.scope(namespace))


@router.post("/orchestrations", response_model=Flag, tags=["orchestrations"])
async def start_orchestration(namespace: NamespacePath, body: StartOrchestration, request: Request,
                              who: Caller) -> Flag:
    """Start an instance; `ok` is False when one with this id exists (it is left alone)."""
    validate_name(body.name, "orchestration name")
    created = await _state(request).workflows().wf_start(who.scope(namespace), body.instance_id, body.name,
                                                         body.input)
    return Flag(ok=created)


@router.get("/orchestrations", response_model=list[InstanceInfo], tags=["orchestrations"])
async def list_orchestrations(namespace: NamespacePath, request: Request, who: Caller,
                              name: Annotated[str | None, Query(max_length=200)] = None,
                              status: Annotated[str | None, Query(
                                  pattern="^(running|completed|failed|terminated)$")] = None,
                              limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[InstanceInfo]:
    """Instances, newest first, by orchestration name and status."""
    return await _state(request).workflows().wf_list(who.scope(namespace), name=name, status=status, limit=limit,
                                                     offset=offset)


async def _instance(request: Request, namespace: str, instance_id: str) -> InstanceInfo:
    info = await _state(request).workflows().wf_get(namespace, instance_id)
    if info is None:
        raise InstanceNotFoundError(instance_id)
    return info


@router.get("/orchestrations/{instance_id}", response_model=InstanceInfo, tags=["orchestrations"])
async def get_orchestration(namespace: NamespacePath, instance_id: IdPath, request: Request,
                            who: Caller) -> InstanceInfo:
    """An instance's status, output or error, and custom status."""
    return await _instance(request, who.scope(namespace), instance_id)


@router.post("/orchestrations/{instance_id}/events", response_model=Flag, tags=["orchestrations"])
async def raise_event(namespace: NamespacePath, instance_id: IdPath, body: EventRequest, request: Request,
                      who: Caller) -> Flag:
    """Send an external event, kept until the orchestration waits for it; `ok` False if it has ended."""
    event = h.HistoryEvent(h.EVENT_RAISED, {"name": check_text(body.name, "an event name"), "data": body.data})
    return Flag(ok=await _state(request).workflows().wf_deliver(who.scope(namespace), instance_id, event))


@router.post("/orchestrations/{instance_id}/queue", response_model=Flag, tags=["orchestrations"])
async def enqueue_event(namespace: NamespacePath, instance_id: IdPath, body: EventRequest, request: Request,
                        who: Caller) -> Flag:
    """Append a message to the instance's persistent FIFO queue `name` (read with `dequeue_event`)."""
    event = h.HistoryEvent(h.EVENT_QUEUED, {"name": check_text(body.name, "a queue name"), "data": body.data})
    return Flag(ok=await _state(request).workflows().wf_deliver(who.scope(namespace), instance_id, event))


@router.post("/orchestrations/{instance_id}/terminate", response_model=Flag, tags=["orchestrations"])
async def terminate(namespace: NamespacePath, instance_id: IdPath, body: TerminateRequest, request: Request,
                    who: Caller) -> Flag:
    """Stop an instance and its running children; `ok` False if it had already ended."""
    return Flag(ok=await _state(request).workflows().wf_terminate(who.scope(namespace), instance_id, body.reason))


@router.delete("/orchestrations/{instance_id}", response_model=Flag, tags=["orchestrations"])
async def delete(namespace: NamespacePath, instance_id: IdPath, request: Request, who: Caller) -> Flag:
    """Delete an instance with its history and its children; `ok` False if there was none."""
    return Flag(ok=await _state(request).workflows().wf_delete(who.scope(namespace), instance_id))


@router.get("/orchestrations/{instance_id}/executions", response_model=list[int], tags=["orchestrations"])
async def executions(namespace: NamespacePath, instance_id: IdPath, request: Request, who: Caller) -> list[int]:
    """The execution numbers whose history is kept."""
    return await _state(request).workflows().wf_executions(who.scope(namespace), instance_id)


@router.get("/orchestrations/{instance_id}/history", response_model=list[Event], tags=["orchestrations"])
async def history(namespace: NamespacePath, instance_id: IdPath, request: Request, who: Caller,
                  execution: Annotated[int | None, Query(ge=1, le=2**31)] = None) -> list[Event]:
    """An execution's history (the current one by default): kind and JSON data per event."""
    events = await _state(request).workflows().wf_history(who.scope(namespace), instance_id, execution)
    return [Event(**e) for e in dump_events(events)]


@router.get("/orchestrations/{instance_id}/children", response_model=list[str], tags=["orchestrations"])
async def children(namespace: NamespacePath, instance_id: IdPath, request: Request, who: Caller) -> list[str]:
    """Ids of the sub-orchestrations the instance started."""
    return await _state(request).workflows().wf_children(who.scope(namespace), instance_id)


@router.post("/orchestrations/{instance_id}/prune", response_model=Count, tags=["orchestrations"])
async def prune(namespace: NamespacePath, instance_id: IdPath, body: PruneRequest, request: Request,
                who: Caller) -> Count:
    """Delete the history of all but the last `keep_last` executions; how many events went."""
    return Count(count=await _state(request).workflows().wf_prune(who.scope(namespace), instance_id, body.keep_last))
