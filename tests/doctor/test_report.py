"""Rendering: the plain table, the rich table and the JSON keys, from hand-made observations."""

from __future__ import annotations

import io
import json

from rich.console import Console

from ftpferry.doctor import JSON_VERSION, Report, dumps, render_rich, render_text, to_json

from .builders import failed, healthy, reply, timed_out, with_probes

TOP_KEYS = [
    "version",
    "exit_code",
    "any_mode_works",
    "url",
    "host",
    "port",
    "tls_mode",
    "timeout",
    "active_address",
    "control",
    "peer_address",
    "local_address",
    "greeting",
    "tls",
    "login",
    "features",
    "stopped",
    "modes",
    "findings",
    "dialogue",
]
PROBE_KEYS = {
    "works",
    "command",
    "ok",
    "seconds",
    "failure",
    "error",
    "setup_reply",
    "advertised_host",
    "advertised_port",
    "connect",
    "listen",
    "arrived",
    "arrived_from",
    "transfer_reply",
    "final_reply",
    "tls",
    "tls_session_reused",
    "bytes_received",
    "via_control_address",
}
FINDING_KEYS = {"code", "severity", "title", "evidence", "fix", "modes"}


def broken_report() -> Report:
    pasv = failed(
        "PASV",
        failure="connect-failed",
        error="timed out",
        setup_reply=reply(227, "Entering Passive Mode (10,91,2,2,117,49)."),
        advertised_host="10.91.2.2",
        connect=timed_out(30001, host="10.91.2.2"),
    )
    return Report.of(with_probes(healthy(), pasv))


def test_plain_text_has_the_session_the_table_and_the_diagnosis() -> None:
    output = render_text(broken_report(), width=100)
    assert output.startswith("ftpferry doctor ftp://alice@198.18.0.1:2121/\n")
    for label in ("control", "greeting", "TLS", "login", "features"):
        assert f"  {label}" in output
    lines = output.splitlines()
    assert any(line.startswith("  PASV  FAIL") for line in lines)
    assert any(line.startswith("  EPSV  OK") for line in lines)
    assert "227 names 10.91.2.2 port 30001, but the control address is 198.18.0.1" in " ".join(
        output.split()
    )
    assert "ERROR   server needs a masquerade address" in output
    assert "fix: Make the server announce" in output
    assert output.rstrip().endswith("(exit 0)")
    assert "\x1b[" not in output
    assert all(len(line) <= 100 or " " not in line.strip() for line in lines)


def test_plain_text_of_a_healthy_run_says_no_problems() -> None:
    output = render_text(Report.of(healthy()))
    assert "No problems found." in output
    assert "4 of 4 data-channel modes work" in output


def test_rich_rendering_shows_the_same_content() -> None:
    buffer = io.StringIO()
    render_rich(broken_report(), Console(file=buffer, width=120, color_system=None))
    output = buffer.getvalue()
    assert "PASV" in output and "FAIL" in output and "Diagnosis" in output
    assert "server needs a masquerade address" in output


def test_json_keys_are_stable() -> None:
    report = broken_report()
    data = to_json(report)
    assert list(data) == TOP_KEYS
    assert data["version"] == JSON_VERSION
    modes = data["modes"]
    assert isinstance(modes, dict) and list(modes) == ["PASV", "EPSV", "PORT", "EPRT"]
    for probe in modes.values():
        assert set(probe) == PROBE_KEYS
    findings = data["findings"]
    assert isinstance(findings, list) and findings
    for finding in findings:
        assert set(finding) == FINDING_KEYS
    assert json.loads(dumps(report)) == json.loads(json.dumps(data))


def test_json_of_a_run_that_stopped_early_has_null_modes() -> None:
    observations = healthy(login=None, probes=(), stopped="login refused")
    data = to_json(Report.of(observations))
    assert data["modes"] == {"PASV": None, "EPSV": None, "PORT": None, "EPRT": None}
    assert data["exit_code"] == 1


def test_server_text_is_neither_markup_nor_escape_sequences() -> None:
    """A greeting with "[/x]" used to stop the rich rendering (a closing tag that
    matches nothing), and an ESC in it reached the terminal as it was."""
    greeting = reply(220, "welcome [/x] [bold]not bold\x1b]0;pwned\x07\x1b[2J")
    report = Report.of(healthy(greeting=greeting))
    buffer = io.StringIO()
    render_rich(report, Console(file=buffer, width=200, color_system=None))
    output = buffer.getvalue()
    assert "[/x] [bold]not bold" in output
    assert "\x1b" not in output and "\\x1b]0;pwned" in output
    text = render_text(report)
    assert "[/x] [bold]not bold" in text
