"""What every command shares: the URL and namespace options, one-line errors, JSON options."""


import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer

from ..errors import ConfigurationError, TreadleError, WaitTimeoutError
from ..storage import DEFAULT_URL

if TYPE_CHECKING:
    from ..client import Client

F = TypeVar("F", bound=Callable[..., Any])

UrlOption = Annotated[str | None, typer.Option(
    "--url", "--db", help="Storage URL (default: $TREADLE_URL, else sqlite:///treadle.db).", show_default=False)]
NamespaceOption = Annotated[str, typer.Option("--namespace", envvar="TREADLE_NAMESPACE", help="Namespace.")]


def resolve_url(url: str | None) -> str:
    """The URL to use: the option, else `$TREADLE_URL`, else the embedded default."""
    return url or os.environ.get("TREADLE_URL") or DEFAULT_URL


def open_client(url: str | None, namespace: str) -> "Client":
    """A client on the resolved URL; imported here, so that `treadle worker` never loads the client."""
    from ..client import Client

    return Client(resolve_url(url), namespace=namespace)


def fail(message: str, code: int = 1) -> None:
    """Print one line to stderr and exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def friendly(fn: F) -> F:
    """Turn treadle's errors into one line on stderr instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except WaitTimeoutError as exc:
            fail(str(exc), 3)
        except TreadleError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"{type(exc).__name__}: {exc}")

    return wrapper  # type: ignore[return-value]


def split_values(values: list[str] | None) -> list[str]:
    """`--tasks a,b --tasks c` -> [a, b, c]."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def parse_json(text: str | None, option: str) -> Any:
    """Decode a JSON option value with an error that names the option."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"{option} is not valid JSON ({exc}): {text!r}") from None


