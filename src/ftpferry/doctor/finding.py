"""A finding: one diagnosis with its severity, evidence and fix.

A value of its own module so that the rule modules and the report can
share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal

from .observations import DataCommand, Observations

__all__ = ["SEVERITY_ORDER", "Finding", "Rule", "Severity"]

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: Final = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One diagnosis.

    Attributes:
        code: a stable identifier (``pasv-private-address``) for scripts.
        severity: ``error`` (something does not work and should be fixed),
            ``warning`` (something fails but there is a working way), or
            ``info``.
        title: one line: what is wrong.
        evidence: what was observed, one fact per item.
        fix: what to change, naming the settings.
        modes: the data-channel commands this finding explains.
    """

    code: str
    severity: Severity
    title: str
    evidence: tuple[str, ...]
    fix: str
    modes: tuple[DataCommand, ...] = ()


Rule = Callable[[Observations], Iterable[Finding]]
"""A rule looks at the observations and yields the findings it recognises."""
