"""Importing LanceDB in half the time.

``import lancedb`` also imports the client of LanceDB's REST namespace server, which Deskmate
never uses (its packs are local folders): about 250 pydantic models and 370 ``validate_call``
functions, whose validators pydantic builds at import. That was more than half of the import,
the largest single part of the time to the first search result.

:func:`import_lancedb` imports it with pydantic's ``defer_build`` as the default, so each of
those validators is built the first time it is used (never, here) instead. Behaviour does not
change: a deferred model or function validates exactly as it would have, once built. Any other
pydantic model created meanwhile (by another thread) is deferred the same way. When pydantic's
internals are not the ones this relies on (the pinned version changed), LanceDB is imported
plainly; ``tests/gui/test_startup.py`` says so by failing.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType
from typing import Any

_lock = threading.Lock()


def _pydantic_defaults() -> dict[str, Any] | None:
    """pydantic's dict of configuration defaults, if it is where this module expects it."""
    try:
        config: Any = importlib.import_module("pydantic._internal._config")
    except ImportError:
        return None
    defaults = getattr(config, "config_defaults", None)
    if isinstance(defaults, dict) and defaults.get("defer_build") is False:
        return defaults
    return None


def import_lancedb() -> ModuleType:
    """``lancedb``, imported with pydantic's validator builds deferred (see the module doc)."""
    already = sys.modules.get("lancedb")
    if already is not None:
        return already
    with _lock:
        defaults = _pydantic_defaults()
        if defaults is not None:
            defaults["defer_build"] = True
        try:
            return importlib.import_module("lancedb")
        finally:
            if defaults is not None:
                defaults["defer_build"] = False
