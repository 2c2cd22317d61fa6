"""Package attributes that load their module on first use (PEP 562).

A package ``__init__`` that re-exports its modules' names makes
``import ftpferry.protocol.addresses`` load every sibling too.  For a
command-line run that lives a fraction of a second, each module loaded is
start-up time; :func:`lazy_exports` keeps the re-exported names (and, with
``if TYPE_CHECKING:`` imports next to it, their static types) while loading
a module only when one of its names is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: name -> its submodule in ``homes``.

    The value is stored in the package's namespace, so the lookup happens
    once per name.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{home}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
