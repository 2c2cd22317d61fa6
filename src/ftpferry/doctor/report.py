"""Rendering a doctor run: a table for people, JSON for scripts.

Three renderings of the same :class:`Report`:

* :func:`render_text`: plain text, for logs, pipes and bug reports (used
  whenever stdout is not a terminal; no colour, no box drawing);
* :func:`render_rich`: the same content with colour and a rich table;
* :func:`to_json`: every observation and finding under stable keys
  (``version`` is bumped if a key ever changes meaning).
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from dataclasses import dataclass
from typing import Final

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ftpferry.printable import printable

from .finding import Finding
from .findings import diagnose, exit_code
from .observations import DATA_COMMANDS, DataProbe, Observations
from .phrases import connect_text, probe_details, reply_text

__all__ = ["JSON_VERSION", "Report", "dumps", "render_rich", "render_text", "to_json"]

JSON_VERSION: Final = 1
SEVERITY_STYLE: Final = {"error": "bold red", "warning": "yellow", "info": "cyan"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Observations with their diagnosis and the exit code they lead to."""

    observations: Observations
    findings: tuple[Finding, ...]
    exit_code: int

    @classmethod
    def of(cls, observations: Observations) -> Report:
        """Diagnose ``observations``."""
        return cls(
            observations=observations,
            findings=diagnose(observations),
            exit_code=exit_code(observations),
        )


# -- shared pieces ---------------------------------------------------------------------------


def _summary_rows(observations: Observations) -> list[tuple[str, str]]:
    """The session lines above the table: (label, text)."""
    rows: list[tuple[str, str]] = []
    control = observations.control
    if control is not None:
        text = connect_text(control)
        if control.outcome == "ok" and observations.local_address:
            text += f" (from {observations.local_address})"
        rows.append(("control", text))
    if observations.greeting is not None:
        rows.append(("greeting", reply_text(observations.greeting)))
    rows.append(("TLS", _tls_text(observations)))
    login = observations.login
    if login is not None:
        answer = reply_text(login.reply) if login.reply is not None else ""
        rows.append(("login", f"{answer} (user {login.user}, password: {login.password_source})"))
    if observations.features:
        names = dict.fromkeys(line.split(" ", 1)[0].upper() for line in observations.features)
        rows.append(("features", " ".join(names)))
    elif observations.login is not None:
        rows.append(("features", "none (no FEAT)"))
    if observations.stopped:
        rows.append(("stopped", observations.stopped))
    return rows


def _tls_text(observations: Observations) -> str:
    tls = observations.tls
    if tls is None:
        return "none (ftp://)" if observations.tls_mode == "none" else "not reached"
    mode = "explicit (AUTH TLS)" if tls.mode == "explicit" else "implicit"
    if not tls.ok:
        return f"{mode}: failed ({tls.problem}): {tls.error}"
    text = f"{mode}: {tls.version} {tls.cipher}".rstrip()
    cert = tls.certificate
    checked = "verified" if tls.verified else "NOT verified (--insecure)"
    if cert is not None:
        text += f"; certificate {cert.subject} {checked}, valid until {cert.not_after}"
    else:
        text += f"; certificate {checked}"
    return text


def _result(probe: DataProbe) -> str:
    if probe.ok:
        return "OK"
    if probe.failure == "not-applicable":
        return "n/a"
    return "FAIL"


def _verdict(report: Report) -> str:
    probes = report.observations.probes
    working = [
        probe.command if probe.ok else f"{probe.command} (only at the control address)"
        for probe in probes
        if probe.works
    ]
    if not probes:
        return f"the data channel was not reached (exit {report.exit_code})"
    applicable = [probe for probe in probes if probe.failure != "not-applicable"]
    return (
        f"{len(working)} of {len(applicable)} data-channel modes work"
        f"{': ' + ', '.join(working) if working else ''} (exit {report.exit_code})"
    )


# -- plain text -----------------------------------------------------------------------------


def render_text(report: Report, *, width: int = 100) -> str:
    """The report as plain text (see the module docstring)."""
    observations = report.observations
    lines = [f"ftpferry doctor {observations.url}"]
    for label, text in _summary_rows(observations):
        lines += _wrap(text, width, first=f"  {label:<9} ", rest=" " * 12)
    if observations.probes:
        lines += ["", f"  {'mode':<5} {'result':<6} {'time':>7}  details"]
        for probe in observations.probes:
            head = f"  {probe.command:<5} {_result(probe):<6} {probe.seconds:>5.2f} s  "
            details = probe_details(probe, observations.peer_address)
            lines += _wrap(details, width, first=head, rest=" " * len(head))
    lines += ["", "Diagnosis"]
    if not report.findings:
        lines.append("  No problems found.")
    for finding in report.findings:
        lines += _wrap(
            finding.title, width, first=f"  {finding.severity.upper():<8}", rest=" " * 10
        )
        for item in finding.evidence:
            lines += _wrap(item, width, first="          - ", rest=" " * 12)
        lines += _wrap(finding.fix, width, first="          fix: ", rest=" " * 15)
    lines += ["", f"Result: {_verdict(report)}"]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int, *, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text,
        width=max(width, len(first) + 20),
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [first.rstrip()]


# -- rich ------------------------------------------------------------------------------------


def render_rich(report: Report, console: Console) -> None:
    """The report with colour and a table, on ``console``."""
    observations = report.observations
    # Server text goes in as Text, never as markup ("[/x]" in a greeting is no
    # closing tag), and through printable(): rich keeps ESC sequences as they are.
    console.print(Text.assemble(("ftpferry doctor ", "bold"), printable(observations.url)))
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    for label, text in _summary_rows(observations):
        summary.add_row(label, Text(printable(text)))
    console.print(Padding(summary, (0, 0, 0, 2)))
    if observations.probes:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("mode", style="bold")
        table.add_column("result")
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("details", overflow="fold")
        for probe in observations.probes:
            result = _result(probe)
            style = {"OK": "green", "FAIL": "red"}.get(result, "dim")
            table.add_row(
                probe.command,
                Text(result, style=style),
                f"{probe.seconds:.2f} s",
                Text(printable(probe_details(probe, observations.peer_address))),
            )
        console.print()
        console.print(Padding(table, (0, 0, 0, 2)))
    console.print(Text("Diagnosis", style="bold"))
    if not report.findings:
        console.print(Padding(Text("No problems found.", style="green"), (0, 0, 0, 2)))
    for finding in report.findings:
        console.print(
            Text.assemble(
                "  ",
                (f"{finding.severity.upper():<8}", SEVERITY_STYLE[finding.severity]),
                (printable(finding.title), "bold"),
            )
        )
        for item in finding.evidence:
            console.print(Padding(Text(f"- {printable(item)}", style="dim"), (0, 0, 0, 10)))
        fix = Text.assemble(("fix: ", "bold"), printable(finding.fix))
        console.print(Padding(fix, (0, 0, 0, 10)))
    style = "green" if report.exit_code == 0 else "red"
    console.print()
    console.print(Text.assemble(("Result: ", "bold"), (_verdict(report), style)))


# -- JSON ------------------------------------------------------------------------------------


def to_json(report: Report) -> dict[str, object]:
    """Every observation and finding under stable keys (see the module docstring)."""
    observations = report.observations
    data = dataclasses.asdict(observations)
    data.pop("probes")
    dialogue = data.pop("dialogue")
    modes: dict[str, object] = {}
    for command in DATA_COMMANDS:
        probe = observations.probe(command)
        modes[command] = (
            None if probe is None else {"works": probe.works, **dataclasses.asdict(probe)}
        )
    return {
        "version": JSON_VERSION,
        "exit_code": report.exit_code,
        "any_mode_works": observations.any_mode_works,
        **data,
        "modes": modes,
        "findings": [dataclasses.asdict(finding) for finding in report.findings],
        "dialogue": dialogue,
    }


def dumps(report: Report) -> str:
    """:func:`to_json` as indented JSON text."""
    return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
