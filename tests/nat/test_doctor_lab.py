"""``ftpferry doctor`` and the client library's ``mode="auto"`` in the NAT lab.

Each scenario of test_nat_lab.py that the doctor must recognise is built
again (see conftest.py for the topology), and the installed
``ftpferry doctor --json`` runs inside the client's namespace exactly as a
user would run it.  The tests assert the data-channel results, the
findings and the exit code; the rows in the results table show what the
doctor reported.

The same scenarios also run a tiny script using the client library's
``FTPClient(mode="auto")``: wherever any data-channel mode can work, auto
must find it (and the row says which command carried the data), and where
none can, it must fail within bounds.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import PASSWORD, USER, ftpferry_command

from .conftest import (
    CONTROL_PORT,
    CROUTER_WAN,
    DATA_TIMEOUT,
    PASSIVE_HIGH,
    PASSIVE_LOW,
    PAYLOAD_NAME,
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

DOCTOR_BOUND = 60.0
"""Wall-clock bound of one doctor run: four probes of at most --timeout each, plus set-up."""
AUTO_BOUND = 30.0

AUTO_SCRIPT = r"""
import hashlib, io, json, sys, time
from ftpferry.client import FTPClient

job = json.loads(sys.argv[1])
started = time.monotonic()
report = {"ok": False}
try:
    with FTPClient.from_url(
        job["url"], mode="auto", connect_timeout=5, timeout=10, data_timeout=8, **job["options"]
    ) as ftp:
        names = ftp.listdir().names()
        listed = ftp.last_data_command
        out = io.BytesIO()
        ftp.download(job["file"], out)
        route = ftp.last_route
        report = {
            "ok": True,
            "listed_with": listed,
            "last_data_command": ftp.last_data_command,
            "route": None if route is None else f"{route.mode} {route.command} "
            f"{route.host}:{route.port}" + (f" ({route.note})" if route.note else ""),
            "names": len(names),
            "sha256": hashlib.sha256(out.getvalue()).hexdigest(),
        }
except Exception as exc:
    report = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
report["seconds"] = time.monotonic() - started
print(json.dumps(report))
"""


def ftp_url(host: str, scheme: str = "ftp") -> str:
    """The lab's account at ``host``, password in the URL (quoted: it has a space)."""
    return f"{scheme}://{USER}:{quote(PASSWORD, safe='')}@{host}:{CONTROL_PORT}/"


def control_only_forward() -> str:
    """srouter: forward ONLY the control port (the passive range is dropped), and
    masquerade the LAN's outbound connections, as a home or cloud router does.

    The masquerade makes the server's active-mode connections come from the
    public address, the address the client's control connection goes to.
    """
    return f"""
table inet lab {{
  counter dropped_input {{ }}
  counter dropped_forward {{ }}
  chain dstnat {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" ip daddr {PUBLIC} tcp dport {CONTROL_PORT} dnat ip to {SERVER}
  }}
  chain srcnat {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr {SERVER_LAN} masquerade
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    ct state established,related accept
    iifname "wan0" counter name "dropped_input" drop
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct status dnat accept
    iifname "lan0" accept
    counter name "dropped_forward" drop
  }}
}}
"""


# -- running the doctor and the auto client ---------------------------------------------------


def run_doctor(lab: Lab, role: str, url: str, *extra: str) -> tuple[dict[str, Any], ClientRun]:
    """``ftpferry doctor --json URL`` inside ``role``'s namespace."""
    run = lab[role].run(
        [*ftpferry_command(), "doctor", "--json", *extra, url], timeout=DOCTOR_BOUND
    )
    assert run.returncode != -9, "doctor HUNG:\n" + run.explain(lab.servers[-1])
    try:
        data: dict[str, Any] = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail("doctor printed no JSON:\n" + run.explain(lab.servers[-1]))
    return data, run


def modes_summary(data: dict[str, Any]) -> str:
    """``PASV ok, EPSV ok, PORT 501, EPRT no-connection`` for the table."""
    parts = []
    for command, probe in data["modes"].items():
        if probe is None:
            parts.append(f"{command} -")
        elif probe["ok"]:
            parts.append(f"{command} ok")
        elif probe["via_control_address"] and probe["via_control_address"]["ok"]:
            parts.append(f"{command} ok only at control address")
        elif probe["setup_reply"] and probe["setup_reply"]["code"] // 100 != 2:
            parts.append(f"{command} {probe['setup_reply']['code']}")
        elif probe["connect"] and probe["connect"]["outcome"] != "ok":
            parts.append(f"{command} connect {probe['connect']['outcome']}")
        else:
            parts.append(f"{command} {probe['failure']}")
    return ", ".join(parts)


def finding(data: dict[str, Any], code: str) -> dict[str, Any]:
    """The one finding with ``code``."""
    found: list[dict[str, Any]] = [item for item in data["findings"] if item["code"] == code]
    assert len(found) == 1, json.dumps(data["findings"], indent=2)
    return found[0]


def record_doctor(
    record: Recorder,
    scenario: str,
    role: str,
    data: dict[str, Any],
    run: ClientRun,
    *,
    expected: str,
    label: str = "all four modes",
) -> None:
    """One row: exit code, per-mode result, and the findings' codes and severities."""
    findings = ", ".join(f"{item['severity']} {item['code']}" for item in data["findings"])
    record(
        scenario,
        f"ftpferry doctor ({role})",
        label,
        expected,
        f"exit {data['exit_code']}; {modes_summary(data)}",
        run.seconds,
        findings or "no findings",
    )


def run_auto(lab: Lab, role: str, url: str, **options: Any) -> tuple[dict[str, Any], ClientRun]:
    """The client library with ``mode="auto"``: list, then download the payload."""
    job = json.dumps({"url": url, "file": PAYLOAD_NAME, "options": options})
    run = lab[role].run([sys.executable, "-c", AUTO_SCRIPT, job], timeout=AUTO_BOUND)
    assert run.returncode != -9, "auto client HUNG:\n" + run.explain(lab.servers[-1])
    try:
        report: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        pytest.fail("auto client printed no JSON:\n" + run.explain(lab.servers[-1]))
    return report, run


def check_auto(
    lab: Lab,
    record: Recorder,
    scenario: str,
    role: str,
    url: str,
    payload_sha: str,
    *,
    expect: set[str] | None,
    label: str = 'mode="auto"',
    **options: Any,
) -> dict[str, Any]:
    """Run the auto client, record its row, assert it used one of ``expect`` (None: fails)."""
    report, run = run_auto(lab, role, url, **options)
    ok = bool(report.get("ok")) and report.get("sha256") == payload_sha
    record(
        scenario,
        f"ftpferry client ({role})",
        label,
        f"works via {'/'.join(sorted(expect))}" if expect else "fails (bounded)",
        f"works via {report.get('last_data_command')}" if ok else "fails",
        float(report.get("seconds", run.seconds)),
        report.get("route") or report.get("error", ""),
    )
    explain = run.explain(lab.servers[-1])
    if expect:
        assert ok, explain
        assert report["last_data_command"] in expect, explain
        assert report["listed_with"] in expect, explain
    else:
        assert not report.get("ok"), explain
        assert float(report["seconds"]) < AUTO_BOUND - 5, explain
    return report


# -- 1. direct route: the baseline ------------------------------------------------------------

D1 = "1 direct route, no NAT"


def test_doctor_direct_route(lab: Lab, record: Recorder, payload_sha: str) -> None:
    """Nothing in the way: four modes work, no error, exit 0; auto uses EPSV."""
    lab.start_server()
    data, run = run_doctor(lab, "wanclient", ftp_url(SERVER))
    record_doctor(record, D1, "wanclient", data, run, expected="exit 0; all ok")
    assert run.returncode == 0, run.explain(lab.servers[-1])
    assert all(probe["ok"] for probe in data["modes"].values()), run.stdout
    assert not [item for item in data["findings"] if item["severity"] == "error"], run.stdout
    check_auto(lab, record, D1, "wanclient", ftp_url(SERVER), payload_sha, expect={"EPSV"})


# -- 2. client behind NAT and a stateful firewall ---------------------------------------------

D2 = "2 client NAT + stateful firewall"


def test_doctor_client_nat(lab: Lab, record: Recorder, payload_sha: str) -> None:
    """Passive works; PORT/EPRT naming the private address get 501 (bounce protection);
    naming the router's address, they are accepted and the connection never arrives."""
    lab["crouter"].nft(client_nat_firewall())
    server = lab.start_server()
    url = ftp_url(SERVER)

    data, run = run_doctor(lab, "client", url)
    record_doctor(record, D2, "client", data, run, expected="exit 0; PORT/EPRT 501, passive ok")
    explain = run.explain(server)
    assert run.returncode == 0, explain
    assert data["modes"]["PASV"]["ok"] and data["modes"]["EPSV"]["ok"], explain
    for command in ("PORT", "EPRT"):
        probe = data["modes"][command]
        assert probe["setup_reply"]["code"] == 501, explain
        assert probe["advertised_host"] == "10.91.1.2", explain
    refused = finding(data, "active-refused")
    assert refused["severity"] == "warning", explain
    assert any(CROUTER_WAN in item for item in refused["evidence"]), explain
    assert f"--active-address {CROUTER_WAN}" in refused["fix"], explain

    data, run = run_doctor(lab, "client", url, "--active-address", CROUTER_WAN)
    record_doctor(
        record,
        D2,
        "client",
        data,
        run,
        expected="exit 0; PORT/EPRT accepted, 425, nothing arrives",
        label=f"--active-address {CROUTER_WAN}",
    )
    explain = run.explain(server)
    assert run.returncode == 0, explain
    for command in ("PORT", "EPRT"):
        probe = data["modes"][command]
        assert probe["setup_reply"]["code"] == 200, explain
        assert probe["failure"] == "no-connection", explain
        assert probe["arrived"] is False, explain
        assert probe["transfer_reply"]["code"] == 425, explain
        assert DATA_TIMEOUT - 0.5 < probe["seconds"] < DATA_TIMEOUT + 3, explain
    blocked = finding(data, "active-no-connection")
    assert blocked["title"] == (
        "client-side firewall/NAT blocks inbound data connections: use passive"
    )
    assert lab["crouter"].nft_counter("lab", "dropped") > 0

    check_auto(lab, record, D2, "client", url, payload_sha, expect={"EPSV"})


# -- 3./4. server behind port forwarding --------------------------------------------------------

D3 = "3 server DNAT, no masquerade"
D4 = "4 server DNAT + masquerade"


def test_doctor_port_forward_without_masquerade(
    lab: Lab, record: Recorder, payload_sha: str
) -> None:
    """PASV names 10.91.2.2, not the 198.18.0.1 connected to: the masquerade finding,
    with the evidence that clients ignoring the address (and EPSV) still work."""
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(server_port_forward())
    server = lab.start_server()
    url = ftp_url(PUBLIC)

    data, run = run_doctor(lab, "client", url)
    record_doctor(record, D3, "client", data, run, expected="exit 0; masquerade finding, EPSV ok")
    explain = run.explain(server)
    assert run.returncode == 0, explain
    pasv = data["modes"]["PASV"]
    assert pasv["advertised_host"] == SERVER, explain
    assert data["peer_address"] == PUBLIC, explain
    assert not pasv["ok"] and pasv["connect"]["outcome"] == "timeout", explain
    assert pasv["via_control_address"]["ok"], explain
    assert data["modes"]["EPSV"]["ok"], explain
    masquerade = finding(data, "pasv-private-address")
    assert "server needs a masquerade address" in masquerade["title"]
    assert f"--masquerade-address {PUBLIC}" in masquerade["fix"]
    assert f"pasv_address={PUBLIC}" in masquerade["fix"]
    assert "still work" in masquerade["fix"]
    assert "passive-connect-timeout" not in [item["code"] for item in data["findings"]]
    assert lab["srouter"].nft_counter("lab", "dropped_forward") > 0

    check_auto(lab, record, D3, "client", url, payload_sha, expect={"EPSV"})
    check_auto(
        lab,
        record,
        D3,
        "client",
        url,
        payload_sha,
        expect={"PASV"},
        label='mode="auto", use_epsv=False (PASV address replaced)',
        use_epsv=False,
    )


def test_doctor_port_forward_with_masquerade(lab: Lab, record: Recorder, payload_sha: str) -> None:
    """--masquerade-address 198.18.0.1: passive modes OK, no masquerade finding."""
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(server_port_forward())
    server = lab.start_server("--masquerade-address", PUBLIC)
    url = ftp_url(PUBLIC)

    data, run = run_doctor(lab, "client", url)
    record_doctor(record, D4, "client", data, run, expected="exit 0; PASV/EPSV ok, no masquerade")
    explain = run.explain(server)
    assert run.returncode == 0, explain
    assert data["modes"]["PASV"]["ok"] and data["modes"]["PASV"]["advertised_host"] == PUBLIC
    assert data["modes"]["EPSV"]["ok"], explain
    codes = [item["code"] for item in data["findings"]]
    assert "pasv-private-address" not in codes, explain
    assert not [code for code in codes if code.startswith("passive")], explain

    check_auto(lab, record, D4, "client", url, payload_sha, expect={"EPSV"})
    check_auto(
        lab,
        record,
        D4,
        "client",
        url,
        payload_sha,
        expect={"PASV"},
        label='mode="auto", use_epsv=False, trust_pasv_address=True',
        use_epsv=False,
        trust_pasv_address=True,
    )


# -- 6. only the control port forwarded -------------------------------------------------------

D6 = "6b only the control port forwarded (range dropped)"


def test_doctor_only_control_port_forwarded_client_nat(
    lab: Lab, record: Recorder, payload_sha: str
) -> None:
    """Login works, every passive connect times out; the client's NAT blocks active:
    nothing works, exit 1, and the auto client fails within bounds."""
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(control_only_forward())
    server = lab.start_server("--masquerade-address", PUBLIC)
    url = ftp_url(PUBLIC)

    data, run = run_doctor(lab, "client", url)
    record_doctor(record, D6, "client", data, run, expected="exit 1; passive times out, active 501")
    explain = run.explain(server)
    assert run.returncode == 1, explain
    assert data["login"]["ok"], explain
    for command in ("PASV", "EPSV"):
        probe = data["modes"][command]
        assert probe["connect"]["outcome"] == "timeout", explain
        assert PASSIVE_LOW <= probe["advertised_port"] <= PASSIVE_HIGH, explain
    timeout = finding(data, "passive-connect-timeout")
    assert "passive port connect times out" in timeout["title"]
    assert "not open/forwarded" in timeout["title"]
    assert str(data["modes"]["EPSV"]["advertised_port"]) in timeout["fix"], explain
    assert finding(data, "active-refused")["severity"] == "error"
    assert finding(data, "no-data-mode-works")["severity"] == "error"
    assert data["findings"][0]["severity"] == "error"
    assert lab["srouter"].nft_counter("lab", "dropped_input") > 0

    check_auto(lab, record, D6, "client", url, payload_sha, expect=None)


def test_doctor_only_control_port_forwarded_direct_client(
    lab: Lab, record: Recorder, payload_sha: str
) -> None:
    """The same server for a client without NAT: passive times out, active works,
    exit 0, and the auto client falls back to active mode on its own."""
    lab["srouter"].nft(control_only_forward())
    server = lab.start_server("--masquerade-address", PUBLIC)
    url = ftp_url(PUBLIC)

    data, run = run_doctor(lab, "wanclient", url)
    record_doctor(
        record, D6, "wanclient", data, run, expected="exit 0; passive times out, active ok"
    )
    explain = run.explain(server)
    assert run.returncode == 0, explain
    assert data["modes"]["PORT"]["ok"] and data["modes"]["EPRT"]["ok"], explain
    assert data["modes"]["EPRT"]["arrived_from"] == PUBLIC, explain
    assert not data["modes"]["EPSV"]["ok"], explain
    assert finding(data, "passive-connect-timeout")["severity"] == "error"

    check_auto(lab, record, D6, "wanclient", url, payload_sha, expect={"EPRT", "PORT"})


# -- 7. FTPS through the port forward ---------------------------------------------------------

D7 = "7 FTPS through DNAT, no masquerade"


def test_doctor_ftps_port_forward_without_masquerade(
    lab: Lab, record: Recorder, payload_sha: str
) -> None:
    """TLS hides the 227 from the routers: the doctor still sees (and says) that PASV
    names the private address; EPSV works and resumes the TLS session."""
    lab["crouter"].nft(client_nat_firewall())
    lab["srouter"].nft(server_port_forward())
    server = lab.start_server("--tls-self-signed")
    url = ftp_url(PUBLIC, "ftps")

    data, run = run_doctor(lab, "client", url, "--insecure")
    record_doctor(
        record, D7, "client", data, run, expected="exit 0; masquerade finding, EPSV ok (TLS)"
    )
    explain = run.explain(server)
    assert run.returncode == 0, explain
    assert data["tls"]["ok"], explain
    assert data["modes"]["PASV"]["advertised_host"] == SERVER, explain
    assert data["modes"]["EPSV"]["ok"] and data["modes"]["EPSV"]["tls_session_reused"], explain
    finding(data, "pasv-private-address")

    check_auto(lab, record, D7, "client", url, payload_sha, expect={"EPSV"}, verify=False)
