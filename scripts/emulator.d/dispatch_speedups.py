"""Same answers, less work per request: two lookups moto's server repeats on every call.

cProfile of single-message SQS calls through the emulator app (in process) put over a third of
each request in two places that always give the same result while the server runs:

- `moto.backends.list_of_moto_modules`, read by `DomainDispatcherApplication.get_backend_for_host`
  twice a request: a directory listing of moto's package and a `stat` of each of its ~180
  entries. The package does not change under a running server, so the list is read once.
- `moto.core.responses.method_names_from_class`, called by `BaseResponse.call_action` on every
  request: `inspect.getmembers` over the whole response class to find the action's method. A
  class's functions do not change either, so the names are kept per class.
"""

from __future__ import annotations

import functools

from moto import backends
from moto.core import responses

# moto's own, kept for the tests that compare against them.
ORIGINAL_LIST_OF_MOTO_MODULES = backends.list_of_moto_modules
ORIGINAL_METHOD_NAMES_FROM_CLASS = responses.method_names_from_class


@functools.lru_cache(maxsize=1)
def _moto_modules() -> tuple[str, ...]:
    return tuple(ORIGINAL_LIST_OF_MOTO_MODULES())


def _list_of_moto_modules():
    """moto's service package names, listed once."""
    return iter(_moto_modules())


@functools.lru_cache(maxsize=None)
def _method_names_from_class(clazz) -> frozenset[str]:
    """The names of a response class's functions, found once per class."""
    return frozenset(ORIGINAL_METHOD_NAMES_FROM_CLASS(clazz))


def apply() -> None:
    """Patches moto's server dispatch in this process (idempotent)."""
    backends.list_of_moto_modules = _list_of_moto_modules
    responses.method_names_from_class = _method_names_from_class
