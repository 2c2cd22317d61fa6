"""The FTP data channel through NAT and firewalls, proven with real namespaces.

Each scenario of the README's "Active vs passive, NAT and firewalls" section
is built for real (see conftest.py for the topology) and exercised with
curl, lftp and ftplib.  Expected failures are asserted as carefully as
successes: they must be *bounded* (a clear error within seconds, never a
hang), and the session must stay usable afterwards.  Every observation is
recorded as a row of the results table printed at the end of the run and
written to tests/nat/last-run.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import ftpferry_command

from .conftest import (
    CLIENT,
    CROUTER_WAN,
    DATA_TIMEOUT,
    LANCLIENT,
    PASSIVE_HIGH,
    PASSIVE_LOW,
    PAYLOAD_NAME,
    PAYLOAD_SIZE,
    PUBLIC,
    SERVER,
    SERVER_LAN,
    ClientRun,
    Lab,
    Recorder,
    client_nat_firewall,
    server_port_forward,
)

pytestmark = [pytest.mark.nat]

FAIL_BOUND = 15.0
"""A failing data connection must end within this many seconds (time-outs are 3-5 s)."""

DATA_VERBS = ("PASV", "EPSV", "PORT", "EPRT")


@dataclass(frozen=True)
class Case:
    """One client configured for one data-channel mode."""

    client: str  # curl, lftp or ftplib
    mode: str  # the label in the results table
    verb: str  # the data-channel command the client must send
    args: tuple[str, ...] = ()  # curl flags or lftp settings
    trust: bool = False  # ftplib: connect to the address in the 227 reply
    port_address: str | None = None  # ftplib: the address named in PORT/EPRT

    @property
    def id(self) -> str:
        """A pytest id."""
        return f"{self.client}-{self.mode}".replace(" ", "_")


@dataclass
class Attempt:
    """The outcome of one download attempt."""

    ok: bool
    seconds: float
    detail: str
    run: ClientRun
    verbs: set[str] = field(default_factory=set)
    setup_reply: str = ""
    step: dict[str, Any] = field(default_factory=dict)

    @property
    def observed(self) -> str:
        """'works' or 'fails', for the table."""
        return "works" if self.ok else "fails"


CURL_EPSV = Case("curl", "EPSV", "EPSV")
CURL_PASV = Case("curl", "PASV (default: skips PASV address)", "PASV", ("--disable-epsv",))
CURL_PASV_TRUST = Case(
    "curl",
    "PASV --no-ftp-skip-pasv-ip",
    "PASV",
    ("--disable-epsv", "--no-ftp-skip-pasv-ip"),
)
CURL_PORT = Case("curl", "PORT", "PORT", ("--ftp-port", "-", "--disable-eprt"))
CURL_EPRT = Case("curl", "EPRT", "EPRT", ("--ftp-port", "-"))
FTPLIB_PASV_TRUST = Case("ftplib", "PASV trusting address", "PASV", trust=True)
FTPLIB_PASV = Case("ftplib", "PASV (default: uses control address)", "PASV")
FTPLIB_EPSV = Case("ftplib", "EPSV", "EPSV")
FTPLIB_PORT = Case("ftplib", "PORT", "PORT")
FTPLIB_EPRT = Case("ftplib", "EPRT", "EPRT")
LFTP_PORT = Case("lftp", "PORT", "PORT", ("set ftp:passive-mode off",))
LFTP_EPSV = Case("lftp", "EPSV", "EPSV", ("set ftp:prefer-epsv yes",))
LFTP_PASV = Case(
    "lftp",
    "PASV (default fix-pasv-address)",
    "PASV",
    ("set ftp:prefer-epsv no", "set ftp:fix-pasv-address yes"),
)


def need(tool: str) -> None:
    """Skip when a client is not installed."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def last_error_line(text: str) -> str:
    """The most telling line of a client's stderr."""
    for pattern in (r"^curl: \(\d+\).*$", r"^get: .*$", r"^lftp: .*$", r"^.*[Ff]atal error.*$"):
        found = re.findall(pattern, text, flags=re.MULTILINE)
        if found:
            return found[-1].strip()
    return ""


def curl_story(stderr: str) -> str:
    """What curl did with the data channel, from its -v trace.

    curl 7.88's own error line can mislead (it names the control host for a
    failed data connection, or a stale errno after a refused PORT), so the
    data-connection target and the server's refusal are quoted too.
    """
    parts = []
    skip = re.search(r"Skip \S+ for data connection, re-?use \S+ instead", stderr)
    if skip:
        parts.append(skip.group(0))
    trying = re.findall(r"^\*\s+Trying (\S+?)\.*$", stderr, flags=re.MULTILINE)
    if len(trying) > 1:
        parts.append(f"data connection to {trying[-1]}")
    refused = re.findall(r"^< ([45]\d\d .*)$", stderr, flags=re.MULTILINE)
    if refused:
        parts.append(refused[-1])
    error = last_error_line(stderr)
    if error:
        parts.append(error)
    return "; ".join(parts)


def attempt(lab: Lab, role: str, host: str, case: Case, payload_sha: str) -> Attempt:
    """Download the payload once with ``case`` from ``role``'s namespace."""
    out = lab.tmp_path / f"{case.id}-{role}-{time.monotonic_ns()}.bin"
    if case.client == "curl":
        need("curl")
        run = lab.curl(role, host, *case.args, out=out)
        verbs = set(re.findall(r"^> (PASV|EPSV|PORT|EPRT)\b", run.stderr, flags=re.MULTILINE))
        ok = run.returncode == 0 and lab.sha256(out) == payload_sha
        detail = f"exit {run.returncode}; " + curl_story(run.stderr)
        setup = " ".join(re.findall(r"^< (22[79] .*)$", run.stderr, flags=re.MULTILINE))
        return Attempt(ok, run.seconds, detail, run, verbs, setup)
    if case.client == "lftp":
        need("lftp")
        run = lab.lftp(role, host, case.args, out)
        verbs = set(re.findall(r"^---> (PASV|EPSV|PORT|EPRT)\b", run.stderr, flags=re.MULTILINE))
        ok = run.returncode == 0 and lab.sha256(out) == payload_sha
        setup = " ".join(re.findall(r"^<--- (22[79] .*)$", run.stderr, flags=re.MULTILINE))
        detail = f"exit {run.returncode}; {setup or last_error_line(run.stderr)}"
        return Attempt(ok, run.seconds, detail, run, verbs, setup)
    step = {
        "action": "retr",
        "mode": case.verb,
        "path": PAYLOAD_NAME,
        "trust": case.trust,
        "port_address": case.port_address,
    }
    report, run = lab.ftplib(role, host, [step])
    result = report["steps"][0] if report.get("steps") else {"error": report.get("login_error")}
    ok = bool(result.get("ok")) and result.get("sha256") == payload_sha
    detail = result.get("error") or result.get("setup_reply") or ""
    verbs = {case.verb} if result.get("setup_reply") else set()
    return Attempt(
        ok,
        float(result.get("seconds", run.seconds)),
        detail,
        run,
        verbs,
        result.get("setup_reply", ""),
        result,
    )


def check(
    lab: Lab,
    record: Recorder,
    scenario: str,
    role: str,
    host: str,
    case: Case,
    payload_sha: str,
    *,
    expect_ok: bool,
    note: Callable[[Attempt], str] | None = None,
) -> Attempt:
    """Attempt, record the row, then assert the expected outcome and its bounds.

    ``note`` adds scenario-specific evidence (e.g. from the server log) to the row.
    """
    result = attempt(lab, role, host, case, payload_sha)
    detail = result.detail
    if note is not None:
        detail = f"{note(result)}; {detail}"
    record(
        scenario,
        case.client,
        case.mode,
        "works" if expect_ok else "fails (bounded)",
        result.observed,
        result.seconds,
        detail,
    )
    server = lab.servers[-1] if lab.servers else None
    assert result.run.returncode != -9, "client HUNG:\n" + result.run.explain(server)
    if expect_ok:
        assert result.ok, result.run.explain(server)
        assert result.verbs == {case.verb}, f"used {result.verbs}:\n{result.run.explain(server)}"
    else:
        assert not result.ok, result.run.explain(server)
        assert result.seconds < FAIL_BOUND, result.run.explain(server)
    return result


def pasv_port(reply: str) -> int:
    """The port of a 227 or 229 reply."""
    match = re.search(r"\(\|\|\|(\d+)\|\)", reply)
    if match:
        return int(match.group(1))
    numbers = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", reply)
    assert numbers, reply
    return int(numbers.group(5)) * 256 + int(numbers.group(6))


# -- 1. direct route, no NAT --------------------------------------------------------------

S1 = "1 direct route, no NAT"


@pytest.mark.parametrize("case", [CURL_PASV, CURL_EPSV, CURL_PORT, CURL_EPRT], ids=lambda c: c.id)
def test_direct_route_curl(lab: Lab, record: Recorder, payload_sha: str, case: Case) -> None:
    """Without NAT every mode works: the baseline the other scenarios differ from."""
    lab.start_server()
    check(lab, record, S1, "wanclient", SERVER, case, payload_sha, expect_ok=True)


@pytest.mark.parametrize("mode", DATA_VERBS)
def test_direct_route_ftplib(lab: Lab, record: Recorder, payload_sha: str, mode: str) -> None:
    """ftplib downloads and uploads the multi-megabyte file in each mode."""
    server = lab.start_server()
    steps = [
        {"action": "retr", "mode": mode, "path": PAYLOAD_NAME, "trust": True},
        {"action": "stor", "mode": mode, "path": "up.bin", "size": PAYLOAD_SIZE, "seed": 7},
    ]
    report, run = lab.ftplib("wanclient", SERVER, steps)
    retr, stor = (report["steps"] + [{}, {}])[:2]
    stored = server.root / "up.bin"
    ok_retr = bool(retr.get("ok")) and retr.get("sha256") == payload_sha
    ok_stor = bool(stor.get("ok")) and stored.exists() and lab.sha256(stored) == stor.get("sha256")
    for name, ok, step in (("RETR", ok_retr, retr), ("STOR", ok_stor, stor)):
        record(
            S1,
            "ftplib",
            f"{mode} {name}",
            "works",
            "works" if ok else "fails",
            float(step.get("seconds", 0)),
            step.get("error") or step.get("setup_reply", ""),
        )
    assert ok_retr, run.explain(server)
    assert ok_stor, run.explain(server)


# -- 2. client behind a NAT router with a stateful firewall --------------------------------

S2 = "2 client NAT + stateful firewall"


@pytest.mark.parametrize(
    "case",
    [CURL_EPSV, CURL_PASV, FTPLIB_PASV_TRUST, FTPLIB_EPSV, LFTP_EPSV],
    ids=lambda c: c.id,
)
def test_client_nat_passive_works(lab: Lab, record: Recorder, payload_sha: str, case: Case) -> None:
    """Passive needs only outbound connections, which masquerade and the firewall allow."""
    lab["crouter"].nft(client_nat_firewall())
    lab.start_server()
    check(lab, record, S2, "client", SERVER, case, payload_sha, expect_ok=True)


def test_client_nat_active_fails_cleanly_then_passive_on_same_session(
    lab: Lab, record: Recorder, payload_sha: str
) -> None:
    """Active mode cannot get in through the client's NAT; it must fail fast and cleanly.

    Two ways it fails, both bounded, both leaving the control connection usable:
    a plain client names its private address in PORT, which the server's
    bounce protection refuses at once (the control connection comes from the
    router's public address); a client configured with its router's public
    address gets the PORT accepted, the server's connection is dropped by the
    client's firewall, and RETR ends with 425 after the server's data time-out.
    The passive retry on the SAME connection then succeeds.
    """
    lab["crouter"].nft(client_nat_firewall())
    server = lab.start_server()
    steps = [
        {"action": "retr", "mode": "PORT", "path": PAYLOAD_NAME},
        {"action": "retr", "mode": "PORT", "path": PAYLOAD_NAME, "port_address": CROUTER_WAN},
        {"action": "retr", "mode": "EPRT", "path": PAYLOAD_NAME, "port_address": CROUTER_WAN},
        {"action": "retr", "mode": "PASV", "path": PAYLOAD_NAME, "trust": True},
    ]
    report, run = lab.ftplib("client", SERVER, steps)
    explain = run.explain(server)
    assert len(report["steps"]) == 4, explain
    own, public_port, public_eprt, passive = report["steps"]
    labels = [
        ("PORT own private address", "fails (bounded)", own),
        (f"PORT router address {CROUTER_WAN}", "fails 425 after data timeout", public_port),
        (f"EPRT router address {CROUTER_WAN}", "fails 425 after data timeout", public_eprt),
        ("PASV retry, same session", "works", passive),
    ]
    for mode, expected, step in labels:
        ok = bool(step.get("ok")) and step.get("sha256") == payload_sha
        record(
            S2,
            "ftplib",
            mode,
            expected,
            "works" if ok else f"fails {step.get('code') or ''}".strip(),
            float(step.get("seconds", 0)),
            step.get("error") or step.get("setup_reply", ""),
        )
    # The plain client: refused at once (bounce protection), never a hang.
    assert not own["ok"], explain
    assert own["code"] is not None and 500 <= own["code"] < 600, explain
    assert own["seconds"] < 2, explain
    # The client that names its public address: the server tries, the firewall drops it.
    for step in (public_port, public_eprt):
        assert not step["ok"], explain
        assert step["code"] == 425, explain
        assert DATA_TIMEOUT - 0.5 <= step["seconds"] < DATA_TIMEOUT + 4, explain
    assert "timed out" in server.log(), explain
    assert lab["crouter"].nft_counter("lab", "dropped") > 0, "firewall dropped nothing?"
    # Same control connection, passive: works.
    assert passive["ok"], explain
    assert passive["sha256"] == payload_sha, explain
    assert report["noop_after"].startswith("200"), explain


@pytest.mark.parametrize("case", [CURL_EPRT, CURL_PORT, LFTP_PORT], ids=lambda c: c.id)
def test_client_nat_active_clients_fail_bounded(
    lab: Lab, record: Recorder, payload_sha: str, case: Case
) -> None:
    """curl and lftp in active mode behind the NAT: a clear error, quickly, not a hang.

    Both name their private address in EPRT/PORT; the server refuses it at
    once.  (lftp then switches to passive, but with net:max-retries 1 it
    gives up instead of retrying.)
    """
    lab["crouter"].nft(client_nat_firewall())
    server = lab.start_server()
    result = check(lab, record, S2, "client", SERVER, case, payload_sha, expect_ok=False)
    assert result.run.returncode not in (0, 28), result.run.explain(server)
    assert "go only to your own address" in result.run.stderr, result.run.explain(server)


# -- 3./4. server behind port forwarding -------------------------------------------------

S3 = "3 server DNAT, no masquerade"
S4 = "4 server DNAT + masquerade"

WITHOUT_MASQUERADE = [
    (FTPLIB_PASV_TRUST, False),
    (CURL_PASV_TRUST, False),
    (CURL_PASV, True),
    (CURL_EPSV, True),
    (FTPLIB_PASV, True),
    (FTPLIB_EPSV, True),
    (LFTP_EPSV, True),
    (LFTP_PASV, True),
]


@pytest.mark.parametrize(
    ("case", "expect_ok"), WITHOUT_MASQUERADE, ids=[c.id for c, _ in WITHOUT_MASQUERADE]
)
def test_port_forward_without_masquerade(
    lab: Lab, record: Recorder, payload_sha: str, case: Case, expect_ok: bool
) -> None:
    """PASV advertises the private 10.91.2.2: only clients that trust it fail.

    EPSV carries no address; curl (by default), ftplib (by default) and lftp
    (fix-pasv-address) replace a PASV address with the control address.
    The private address is unreachable from the internet: srouter drops it.
    """
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(server_port_forward())
    lab.start_server()
    result = check(lab, record, S3, "client", PUBLIC, case, payload_sha, expect_ok=expect_ok)
    if case.verb == "PASV":
        assert "10,91,2,2" in result.setup_reply, result.run.explain(lab.servers[-1])
    if not expect_ok:
        dropped = lab["srouter"].nft_counter("lab", "dropped_forward")
        assert dropped > 0, "the private address should have been tried and dropped"


WITH_MASQUERADE = [
    FTPLIB_PASV_TRUST,
    CURL_PASV_TRUST,
    CURL_PASV,
    CURL_EPSV,
    FTPLIB_EPSV,
    LFTP_EPSV,
    LFTP_PASV,
]


@pytest.mark.parametrize("case", WITH_MASQUERADE, ids=lambda c: c.id)
def test_port_forward_with_masquerade(
    lab: Lab, record: Recorder, payload_sha: str, case: Case
) -> None:
    """--masquerade-address 198.18.0.1: every client works, trusting or not."""
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(server_port_forward())
    lab.start_server("--masquerade-address", PUBLIC)
    result = check(lab, record, S4, "client", PUBLIC, case, payload_sha, expect_ok=True)
    if case.verb == "PASV":
        assert "198,18,0,1" in result.setup_reply, result.run.explain(lab.servers[-1])


# -- 5. split horizon -------------------------------------------------------------------------

S5 = "5 split horizon"


def test_split_horizon_lan_and_wan_at_once(lab: Lab, record: Recorder, payload_sha: str) -> None:
    """A LAN client gets the LAN address and a WAN client the public one, concurrently."""
    lab["srouter"].nft(server_port_forward())
    flags = ("--masquerade-address", PUBLIC, "--passive-address", f"{SERVER_LAN}={SERVER}")
    server = lab.start_server(*flags)
    plan = lab["server"].run([*ftpferry_command(), "serve", "--check", *flags, "--root", "/tmp"])
    assert re.search(rf"{re.escape(SERVER_LAN)}\s+-> {SERVER}", plan.stdout), plan.explain()
    assert re.search(rf"everyone else\s+-> {PUBLIC}", plan.stdout), plan.explain()

    steps = [
        # Both hold a listener for a moment so the two sessions surely overlap.
        {"action": "setup", "mode": "PASV", "pause": 1.0},
        {"action": "retr", "mode": "PASV", "path": PAYLOAD_NAME, "trust": True},
    ]
    jobs = {"lanclient": SERVER, "wanclient": PUBLIC}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {role: pool.submit(lab.ftplib, role, host, steps) for role, host in jobs.items()}
        results = {role: future.result() for role, future in futures.items()}
    expected_address = {"lanclient": "10,91,2,2", "wanclient": "198,18,0,1"}
    for role, (report, run) in results.items():
        explain = run.explain(server)
        assert len(report["steps"]) == 2, explain
        setup, retr = report["steps"]
        ok = bool(retr.get("ok")) and retr.get("sha256") == payload_sha
        where = f"{role} ({LANCLIENT if role == 'lanclient' else 'via DNAT'})"
        named = re.search(r"\((\d+,\d+,\d+,\d+),", setup.get("final", ""))
        record(
            S5,
            "ftplib",
            f"PASV trusting, {where}",
            f"works, 227 names {expected_address[role]}",
            ("works" if ok else "fails") + f", 227 names {named.group(1) if named else '?'}",
            float(retr.get("seconds", 0)),
            retr.get("setup_reply") or retr.get("error", ""),
        )
        assert expected_address[role] in setup["final"], explain
        assert expected_address[role] in retr["setup_reply"], explain
        assert ok, explain
    # The two sessions really ran at the same time.
    starts = [report["started_at"] for report, _ in results.values()]
    ends = [report["ended_at"] for report, _ in results.values()]
    assert max(starts) < min(ends), (starts, ends)


# -- 6. only the passive range is forwarded ----------------------------------------------------

S6 = "6 only control + passive range forwarded"


def test_only_range_forwarded_every_data_connection_in_range(
    lab: Lab, record: Recorder, payload_sha: str
) -> None:
    """Everything but the control port and LO-HI is dropped; transfers still work.

    Zero drops at srouter afterwards prove no data connection went elsewhere.
    """
    lab["srouter"].nft(server_port_forward())
    server = lab.start_server("--masquerade-address", PUBLIC)
    modes = ["PASV", "EPSV", "PASV", "EPSV", "PASV", "EPSV"]
    steps = [
        {"action": "retr", "mode": mode, "path": PAYLOAD_NAME, "trust": True} for mode in modes
    ]
    report, run = lab.ftplib("wanclient", PUBLIC, steps)
    explain = run.explain(server)
    assert len(report["steps"]) == len(modes), explain
    ports = [pasv_port(step["setup_reply"]) for step in report["steps"] if step["setup_reply"]]
    ok = all(step["ok"] and step["sha256"] == payload_sha for step in report["steps"])
    for case in (CURL_EPSV, LFTP_EPSV):
        result = attempt(lab, "wanclient", PUBLIC, case, payload_sha)
        assert result.ok, result.run.explain(server)
        ports += [pasv_port(line) for line in result.setup_reply.split(" 22") if "|" in line]
    drops = lab["srouter"].nft_counter("lab", "dropped_input") + lab["srouter"].nft_counter(
        "lab", "dropped_forward"
    )
    record(
        S6,
        "ftplib+curl+lftp",
        f"{len(modes)} ftplib PASV/EPSV + curl + lftp",
        f"works, ports in {PASSIVE_LOW}-{PASSIVE_HIGH}",
        ("works" if ok else "fails") + f", ports {sorted(set(ports))}, {drops} drops",
        float(report.get("seconds", 0)),
        "",
    )
    assert ok, explain
    assert len(ports) >= len(modes), explain
    assert all(PASSIVE_LOW <= port <= PASSIVE_HIGH for port in ports), ports
    assert drops == 0, f"srouter dropped {drops} packets: a connection went outside the range"


@pytest.mark.parametrize("command", ["PASV", "EPSV"])
def test_two_port_range_four_requests(lab: Lab, record: Recorder, command: str) -> None:
    """Four sessions hold passive listeners on a 2-port range: two get 425, none leaves it."""
    low, high = 30000, 30001
    lab["srouter"].nft(server_port_forward(low, high))
    server = lab.start_server("--masquerade-address", PUBLIC, passive=(low, high))
    report, run = lab.ftplib("wanclient", PUBLIC, [], op="hold", commands=[command] * 4)
    explain = run.explain(server)
    assert run.returncode == 0, explain
    replies = [item["reply"] for item in report["replies"]]
    granted = [reply for reply in replies if reply[:3] in {"227", "229"}]
    refused = [reply for reply in replies if reply.startswith("425")]
    ports = [pasv_port(reply) for reply in granted]
    record(
        S6,
        "ftplib x4",
        f"{command} on range {low}-{high}",
        "2 granted in range, 2 x 425 naming range",
        f"{len(granted)} granted {ports}, {len(refused)} x 425",
        float(report.get("seconds", 0)),
        refused[0] if refused else "",
    )
    assert len(granted) == 2, explain
    assert len(refused) == 2, explain
    assert sorted(ports) == [low, high], explain
    assert all(f"{low}-{high}" in reply for reply in refused), explain
    assert f"2/2 passive ports in use ({low}-{high})" in report["stat_while_held"], explain
    assert f"0/2 passive ports in use ({low}-{high})" in report["stat_after"], explain


# -- 7. FTPS through the port forward ----------------------------------------------------------

S7 = "7 FTPS through DNAT"


def tls_available() -> bool:
    """True once ``ftpferry serve`` offers --tls."""
    helptext = subprocess.run(
        [*ftpferry_command(), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    return "--tls" in helptext


@pytest.mark.parametrize("masquerade", [False, True], ids=["without-masquerade", "masquerade"])
def test_ftps_through_port_forward(
    lab: Lab, record: Recorder, payload_sha: str, masquerade: bool
) -> None:
    """With TLS the router cannot read (or fix) the PASV reply: only masquerade helps."""
    mode = f"AUTH TLS, PASV --no-ftp-skip-pasv-ip, {'with' if masquerade else 'no'} masquerade"
    expected = "works" if masquerade else "fails (bounded)"
    if not tls_available():
        reason = "FTPS not implemented yet (security issue)"
        record(S7, "curl", mode, expected, "skipped", 0, reason)
        pytest.skip(reason)
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(server_port_forward())
    extra = ("--masquerade-address", PUBLIC) if masquerade else ()
    lab.start_server("--tls-self-signed", *extra)
    case = Case(
        "curl",
        mode,
        "PASV",
        ("--ssl-reqd", "-k", "--disable-epsv", "--no-ftp-skip-pasv-ip"),
    )
    result = check(lab, record, S7, "client", PUBLIC, case, payload_sha, expect_ok=masquerade)
    # The control connection really was TLS (the router could not read the 227).
    assert re.search(r"^< 234 ", result.run.stderr, flags=re.MULTILINE), result.run.explain()
    if masquerade:
        assert re.search(r"^> PROT P", result.run.stderr, flags=re.MULTILINE), result.run.explain()


# -- 8. the FTP conntrack helper ---------------------------------------------------------------

S8 = "8 client NAT + nf_conntrack_ftp helper"


def enable_helper(lab: Lab, record: Recorder) -> None:
    """Load the helper ruleset into crouter, or skip when this kernel lacks it."""
    try:
        lab["crouter"].nft(client_nat_firewall(helper=True))
    except RuntimeError as first:
        if shutil.which("modprobe"):
            subprocess.run(["modprobe", "nf_conntrack_ftp"], capture_output=True, check=False)
        try:
            lab["crouter"].nft(client_nat_firewall(helper=True))
        except RuntimeError:
            reason = f"the kernel here lacks nf_conntrack_ftp (ct helper refused: {first})"
            record(S8, "-", "PORT", "works", "skipped", 0, reason)
            pytest.skip(reason)


@pytest.mark.parametrize(
    "case", [FTPLIB_PORT, FTPLIB_EPRT, CURL_EPRT, CURL_PORT, LFTP_PORT], ids=lambda c: c.id
)
def test_conntrack_helper_makes_active_work(
    lab: Lab, record: Recorder, payload_sha: str, case: Case
) -> None:
    """The helper rewrites PORT/EPRT to the router's address and lets the server's
    connection in as RELATED: the same clients that failed in scenario 2 now work."""
    enable_helper(lab, record)
    server = lab.start_server()

    def received(_: Attempt) -> str:
        """What the server was sent, after the helper's rewrite."""
        found = re.findall(rf"{re.escape(CROUTER_WAN)} <- ((?:PORT|EPRT) \S+)", server.log())
        return "server received " + ", ".join(found)

    check(lab, record, S8, "client", SERVER, case, payload_sha, expect_ok=True, note=received)
    log = server.log()
    sent = re.findall(rf"{re.escape(CROUTER_WAN)} <- (PORT|EPRT) (\S+)", log)
    assert sent, log
    # What reached the server names the router, not the client's private address.
    assert all(CLIENT.replace(".", ",") not in arg and CLIENT not in arg for _, arg in sent), sent
    assert any("198,18,0,2" in arg or CROUTER_WAN in arg for _, arg in sent), (
        f"helper did not rewrite: {sent}"
    )
