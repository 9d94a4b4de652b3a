"""Local runs on a Dask cluster (`pip install 'treadle[dask]'`): the same `TaskRun`, scaled out.

The attempts run inside a Dask worker, so retries and timeouts behave as in a thread runner
there; Dask only carries the run and its outcome. Dask is imported when the runner is first
used, so treadle works without it installed.
"""

from __future__ import annotations

from typing import Any

from ..core.task import TaskDefinition
from ..errors import ConfigurationError
from .attempts import LocalOutcome, RunControl, crashed, for_shipping, run_attempts, stopped
from .runs import TaskRun


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigurationError("the dask runner needs dask.distributed: pip install 'treadle[dask]'") from None
    return distributed


def _attempts_on_worker(definition: TaskDefinition, run_id: str, args: list[Any],
                        kwargs: dict[str, Any]) -> LocalOutcome:
    try:
        return run_attempts(definition, run_id, args, kwargs, RunControl())
    except BaseException as exc:
        return crashed(exc)


class DaskRun(TaskRun):
    """A run held by a Dask future."""

    def __init__(self, future: Any, run_id: str, name: str) -> None:
        super().__init__(run_id, name)
        self._future = future

    def _wait_outcome(self, timeout: float | None) -> LocalOutcome | None:
        if self._future.cancelled():
            return stopped(self.name, self.id, attempt=0)
        if timeout == 0 and not self._future.done():
            return None
        try:
            _distributed().wait([self._future], timeout=timeout)
        except TimeoutError:
            return None
        if self._future.cancelled():
            return stopped(self.name, self.id, attempt=0)
        outcome: LocalOutcome = self._future.result()
        return outcome

    def _stop(self) -> None:
        self._future.cancel()


class DaskRunner:
    """Runs on a Dask cluster: `client` (a `distributed.Client`), or a new client connected to
    `address`, or by default the client already current in this process (`distributed.get_client()`)."""

    def __init__(self, client: Any = None, *, address: str | None = None) -> None:
        if client is not None and address is not None:
            raise ConfigurationError("give a Dask client or an address, not both")
        self._client = client
        self._address = address

    def client(self) -> Any:
        """The Dask client runs are submitted through (connected on first use)."""
        if self._client is None:
            distributed = _distributed()
            if self._address is not None:
                self._client = distributed.Client(self._address)
            else:
                try:
                    self._client = distributed.get_client()
                except ValueError:
                    raise ConfigurationError("the dask runner found no Dask client: start one "
                                             "(distributed.Client(...)) or give DaskRunner(client) or "
                                             "DaskRunner(address=...)") from None
        return self._client

    def start(self, definition: TaskDefinition, run_id: str, args: list[Any], kwargs: dict[str, Any]) -> TaskRun:
        """Submit the run to the cluster and return at once."""
        shipped = for_shipping(definition)
        future = self.client().submit(_attempts_on_worker, shipped, run_id, args, kwargs,
                                      key=f"{definition.name}-{run_id}", pure=False)
        return DaskRun(future, run_id, definition.name)
