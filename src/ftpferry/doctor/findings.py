"""The diagnosis: observations in, findings (severity, evidence, fix) out.

Pure functions of :class:`~.observations.Observations`: no I/O, so every
rule is tested from hand-written observations.  Each rule in :data:`RULES`
looks for one known failure pattern (:mod:`.rules_session` before the data
channel, :mod:`.rules_data` for it) and, when it matches, says what was
seen, quoting replies and connect outcomes, and what to change, naming the
setting in ftpferry and in the servers people actually run.

Every failed data probe ends up explained: one that no rule claimed gets a
generic finding with its evidence, so a new failure pattern is reported,
not hidden.  Findings come errors first, then warnings, then information.
"""

from __future__ import annotations

from typing import Final

from . import rules_data, rules_session
from .finding import SEVERITY_ORDER, Finding, Rule, Severity
from .observations import DataCommand, Observations

__all__ = ["RULES", "Finding", "Severity", "diagnose", "exit_code"]

RULES: Final[tuple[Rule, ...]] = (
    rules_session.control_connection,
    rules_session.greeting,
    rules_session.tls_setup,
    rules_session.login,
    rules_session.stopped_elsewhere,
    rules_data.pasv_private_address,
    rules_data.pasv_other_address,
    rules_data.passive_connect_failed,
    rules_data.passive_range_exhausted,
    rules_data.epsv_refused,
    rules_data.active_refused,
    rules_data.active_unsupported,
    rules_data.active_no_connection,
    rules_data.tls_data,
    rules_data.no_mode_works,
    rules_session.plain_but_tls_offered,
)
"""Every rule, in the order their findings are listed within one severity."""


def diagnose(observations: Observations) -> tuple[Finding, ...]:
    """All findings for these observations, errors first."""
    findings = [finding for rule in RULES for finding in rule(observations)]
    explained: frozenset[DataCommand] = frozenset(
        command
        for finding in findings
        if finding.code != "no-data-mode-works"
        for command in finding.modes
    )
    findings += rules_data.unexplained_failures(observations, explained)
    return tuple(sorted(findings, key=lambda finding: SEVERITY_ORDER[finding.severity]))


def exit_code(observations: Observations) -> int:
    """0 when at least one data-channel mode works, else 1."""
    return 0 if observations.any_mode_works else 1
