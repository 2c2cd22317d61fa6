"""The doctor's rules, from hand-made observations: no network."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpferry.doctor import DataProbe, Finding, LoginInfo, Observations, diagnose, exit_code

from .builders import (
    LOCAL,
    PEER,
    connected,
    failed,
    healthy,
    ok_probe,
    refused,
    reply,
    timed_out,
    tls_failed,
    with_probes,
)


def codes(observations: Observations) -> list[str]:
    return [finding.code for finding in diagnose(observations)]


def only(observations: Observations, code: str) -> Finding:
    found = [finding for finding in diagnose(observations) if finding.code == code]
    assert len(found) == 1, [f.code for f in diagnose(observations)]
    return found[0]


def text(finding: Finding) -> str:
    return " ".join((finding.title, *finding.evidence, finding.fix))


# -- healthy --------------------------------------------------------------------------------


def test_healthy_server_has_no_findings_and_exit_0() -> None:
    observations = healthy()
    assert diagnose(observations) == ()
    assert exit_code(observations) == 0


def test_ftp_url_to_a_server_offering_tls_gets_an_info() -> None:
    observations = healthy(features=("AUTH TLS", "EPSV", "PBSZ", "PROT"))
    finding = only(observations, "ftps-available")
    assert finding.severity == "info"
    assert "ftps://" in finding.fix


# -- (1) masquerade address -----------------------------------------------------------------


def masquerade_case(*, retry_ok: bool = True, epsv_ok: bool = True) -> Observations:
    pasv = failed(
        "PASV",
        failure="connect-failed",
        error="connect to 10.91.2.2 port 30001: timed out after 5.0s",
        setup_reply=reply(227, "Entering Passive Mode (10,91,2,2,117,49)."),
        advertised_host="10.91.2.2",
        connect=timed_out(30001, host="10.91.2.2"),
        via_control_address=ok_probe("PASV", advertised_host="10.91.2.2")
        if retry_ok
        else failed(
            "PASV",
            failure="connect-failed",
            error="timed out",
            advertised_host="10.91.2.2",
            connect=timed_out(30003),
        ),
    )
    epsv = (
        ok_probe("EPSV")
        if epsv_ok
        else failed("EPSV", failure="connect-failed", error="x", connect=timed_out(30002))
    )
    return with_probes(healthy(), pasv, epsv)


def test_pasv_private_address_needs_masquerade() -> None:
    observations = masquerade_case()
    finding = only(observations, "pasv-private-address")
    assert finding.severity == "error"
    assert "masquerade address" in finding.title
    assert "10.91.2.2" in finding.evidence[0] and PEER in finding.evidence[0]
    for setting in (
        f"--masquerade-address {PEER}",
        f"pasv_address={PEER}",
        f"MasqueradeAddress {PEER}",
        f"pure-ftpd -P {PEER}",
    ):
        assert setting in finding.fix
    # Clients that ignore the address still work, and the evidence shows it.
    assert "still work" in finding.fix and "curl" in finding.fix and "lftp" in finding.fix
    assert any("control address" in item and "works" in item for item in finding.evidence)
    # The private address timing out is the masquerade problem, not a closed range.
    assert "passive-connect-timeout" not in codes(observations)
    assert exit_code(observations) == 0


def test_masquerade_without_working_fallback_says_so_and_reports_the_range() -> None:
    observations = masquerade_case(retry_ok=False, epsv_ok=False)
    masquerade = only(observations, "pasv-private-address")
    assert "still work" not in masquerade.fix
    timeout = only(observations, "passive-connect-timeout")
    assert "30003" in timeout.fix and "30002" in timeout.fix
    assert "no-data-mode-works" not in codes(observations)  # PORT/EPRT still work
    assert exit_code(observations) == 0


def test_reachable_private_pasv_address_is_only_a_warning() -> None:
    pasv = ok_probe(
        "PASV", advertised_host="192.168.1.10", connect=connected(30001, "192.168.1.10")
    )
    finding = only(with_probes(healthy(), pasv), "pasv-private-address")
    assert finding.severity == "warning"


def test_unspecified_pasv_address_is_a_masquerade_problem() -> None:
    pasv = failed(
        "PASV",
        failure="unusable-address",
        error="the 227 reply names 0.0.0.0, which is no address",
        advertised_host="0.0.0.0",
        connect=None,
        via_control_address=ok_probe("PASV"),
    )
    finding = only(with_probes(healthy(), pasv), "pasv-private-address")
    assert "0.0.0.0" in text(finding)


def test_pasv_naming_the_control_address_is_fine() -> None:
    assert "pasv-private-address" not in codes(healthy())


def test_pasv_naming_another_public_address_is_not_a_masquerade_problem() -> None:
    pasv = failed(
        "PASV",
        failure="connect-failed",
        error="timed out",
        advertised_host="93.184.216.34",
        connect=timed_out(30001, host="93.184.216.34"),
    )
    observations = with_probes(healthy(), pasv)
    found = codes(observations)
    assert "pasv-private-address" not in found
    assert "passive-connect-timeout" not in found
    finding = only(observations, "pasv-other-address")
    assert "hairpin" in finding.fix
    assert finding.severity == "error"


def test_pasv_other_address_working_at_the_control_address_is_a_warning() -> None:
    pasv = failed(
        "PASV",
        failure="connect-failed",
        error="timed out",
        advertised_host="93.184.216.34",
        connect=timed_out(30001, host="93.184.216.34"),
        via_control_address=ok_probe("PASV", advertised_host="93.184.216.34"),
    )
    assert only(with_probes(healthy(), pasv), "pasv-other-address").severity == "warning"


# -- (2) passive range not open -------------------------------------------------------------


def test_passive_connect_timeout_names_the_port() -> None:
    pasv = failed("PASV", failure="connect-failed", error="t", connect=timed_out(30001))
    epsv = failed("EPSV", failure="connect-failed", error="t", connect=timed_out(30002))
    observations = with_probes(healthy(), pasv, epsv)
    finding = only(observations, "passive-connect-timeout")
    assert finding.severity == "error"
    assert "passive port connect times out" in finding.title
    assert "not open/forwarded" in finding.title
    assert "30001" in finding.fix and "30002" in finding.fix
    assert "--passive-ports" in finding.fix and "pasv_min_port" in finding.fix
    assert set(finding.modes) == {"PASV", "EPSV"}


def test_partly_forwarded_range_says_which_ports_worked() -> None:
    epsv = failed("EPSV", failure="connect-failed", error="t", connect=timed_out(30005))
    finding = only(with_probes(healthy(), epsv), "passive-connect-timeout")
    assert any("30001" in item for item in finding.evidence)
    assert "part of the range" in finding.fix


def test_passive_connect_refused_is_told_apart_from_a_timeout() -> None:
    epsv = failed("EPSV", failure="connect-failed", error="r", connect=refused(30002))
    found = codes(with_probes(healthy(), epsv))
    assert "passive-connect-refused" in found
    assert "passive-connect-timeout" not in found


def test_passive_range_exhausted_names_the_range() -> None:
    busy = reply(425, "No free passive port in range 30000-30000.")
    pasv = failed("PASV", failure="setup-refused", error="x", setup_reply=busy, connect=None)
    epsv = failed("EPSV", failure="setup-refused", error="x", setup_reply=busy, connect=None)
    observations = with_probes(healthy(), pasv, epsv)
    finding = only(observations, "passive-range-exhausted")
    assert "30000-30000" in finding.title
    assert finding.severity == "error"
    assert exit_code(observations) == 0  # active mode still works


# -- (3) active mode ------------------------------------------------------------------------

BOUNCE = reply(501, f"Data connections go only to your own address 198.18.0.2, not {LOCAL}.")


def test_port_refused_by_bounce_protection_advises_passive() -> None:
    port = failed("PORT", failure="setup-refused", error="x", setup_reply=BOUNCE, arrived=None)
    eprt = failed("EPRT", failure="setup-refused", error="x", setup_reply=BOUNCE, arrived=None)
    observations = with_probes(healthy(), port, eprt)
    finding = only(observations, "active-refused")
    assert finding.severity == "warning"  # passive works
    assert "bounce protection" in finding.title and "use passive" in finding.title
    assert any("198.18.0.2" in item and "sees" in item for item in finding.evidence)
    assert "--active-address 198.18.0.2" in finding.fix
    assert finding.fix.startswith("Use passive mode")
    assert set(finding.modes) == {"PORT", "EPRT"}


def test_active_refusal_is_an_error_when_passive_fails_too() -> None:
    port = failed("PORT", failure="setup-refused", error="x", setup_reply=BOUNCE)
    pasv = failed("PASV", failure="connect-failed", error="t", connect=timed_out(30001))
    epsv = failed("EPSV", failure="connect-failed", error="t", connect=timed_out(30002))
    eprt = failed("EPRT", failure="setup-refused", error="x", setup_reply=BOUNCE)
    observations = with_probes(healthy(), port, pasv, epsv, eprt)
    assert only(observations, "active-refused").severity == "error"
    summary = only(observations, "no-data-mode-works")
    assert len(summary.evidence) == 4
    assert exit_code(observations) == 1


def test_active_connection_that_never_arrives_blames_the_client_firewall() -> None:
    port = failed(
        "PORT",
        failure="no-connection",
        error="the server's connection never arrived; LIST got 425",
        setup_reply=reply(200, "PORT command successful."),
        transfer_reply=reply(425, "Can't open data connection."),
        arrived=False,
        seconds=3.0,
    )
    finding = only(with_probes(healthy(), port), "active-no-connection")
    assert finding.title == "client-side firewall/NAT blocks inbound data connections: use passive"
    assert "425" in finding.evidence[0] and "nothing arrived" in finding.evidence[0]
    assert finding.severity == "warning"


def test_eprt_not_implemented_is_information() -> None:
    eprt = failed("EPRT", failure="setup-refused", error="x", setup_reply=reply(502, "No."))
    finding = only(with_probes(healthy(), eprt), "eprt-not-supported")
    assert finding.severity == "info"


def test_vsftpd_illegal_port_is_a_refusal_not_a_missing_command() -> None:
    illegal = reply(500, "Illegal PORT command.")
    port = failed("PORT", failure="setup-refused", error="x", setup_reply=illegal)
    found = codes(with_probes(healthy(), port))
    assert "active-refused" in found
    assert "port-not-supported" not in found


def test_unknown_eprt_is_not_supported() -> None:
    unknown = reply(500, "Unknown command.")
    eprt = failed("EPRT", failure="setup-refused", error="x", setup_reply=unknown)
    assert codes(with_probes(healthy(), eprt)) == ["eprt-not-supported"]


# -- (4) EPSV refused -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 522])
def test_epsv_refused_while_pasv_works(code: int) -> None:
    epsv = failed("EPSV", failure="setup-refused", error="x", setup_reply=reply(code), connect=None)
    finding = only(with_probes(healthy(), epsv), "epsv-refused")
    assert finding.severity == "warning"
    assert "use PASV" in finding.title
    assert "--disable-epsv" in finding.fix


# -- (5) TLS --------------------------------------------------------------------------------


def tls_case(problem: str, **changes: object) -> Observations:
    return healthy(
        url="ftps://alice@127.0.0.1:2121/",
        host="127.0.0.1",
        tls_mode="explicit",
        tls=tls_failed(problem, **changes),
        login=None,
        features=(),
        probes=(),
        stopped="TLS handshake failed",
    )


def test_untrusted_certificate_suggests_cafile_or_insecure() -> None:
    observations = tls_case("untrusted")
    finding = only(observations, "tls-certificate-untrusted")
    assert "--cafile" in finding.fix and "--insecure" in finding.fix
    assert any("AB:CD:EF" in item for item in finding.evidence)
    assert any("self-signed" in item for item in finding.evidence)
    assert exit_code(observations) == 1
    assert codes(observations) == ["tls-certificate-untrusted"]


def test_hostname_mismatch_lists_the_names_the_certificate_is_for() -> None:
    observations = tls_case("hostname-mismatch", error="Hostname mismatch")
    finding = only(observations, "tls-hostname-mismatch")
    assert "localhost, 127.0.0.1, ::1" in finding.fix
    assert "--insecure" in finding.fix


def test_auth_tls_refused() -> None:
    refused_auth = tls_failed(
        "auth-refused", reply=reply(502, "TLS is not configured."), certificate=None, error=""
    )
    finding = only(healthy(tls=refused_auth, probes=(), login=None), "tls-auth-refused")
    assert "AUTH TLS refused" in finding.title
    assert "502" in text(finding)
    assert "ssl_enable=YES" in finding.fix


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        ("expired", "tls-certificate-expired"),
        ("handshake", "tls-handshake-failed"),
        ("prot-refused", "tls-prot-refused"),
    ],
)
def test_other_tls_problems(problem: str, code: str) -> None:
    assert code in codes(tls_case(problem))


def test_session_reuse_required_is_named() -> None:
    reuse = reply(
        425,
        "TLS session reuse is required on the data connection: the client must resume "
        "the control connection's session.",
    )
    probes = tuple(
        failed(
            command,
            failure="transfer-failed",
            error="x",
            tls=True,
            tls_session_reused=False,
            final_reply=reuse,
        )
        for command in ("PASV", "EPSV", "PORT", "EPRT")
    )
    observations = healthy(tls_mode="explicit", probes=probes)
    finding = only(observations, "tls-session-reuse-required")
    assert "session reuse" in finding.title
    assert "require_ssl_reuse" in finding.fix
    assert any("did not resume" in item for item in finding.evidence)
    assert "data-probe-failed" not in codes(observations)


def test_data_tls_handshake_failure() -> None:
    pasv = failed("PASV", failure="tls-handshake", error="TLS handshake failed: EOF", tls=True)
    assert "tls-data-handshake-failed" in codes(with_probes(healthy(), pasv))


# -- session: control connection and login ---------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "code"),
    [
        (timed_out(2121), "control-connect-timeout"),
        (refused(2121), "control-connect-refused"),
    ],
)
def test_control_connection_failures(attempt: object, code: str) -> None:
    observations = Observations(
        url="ftp://x@198.18.0.1:2121/",
        host=PEER,
        port=2121,
        tls_mode="none",
        timeout=5,
        control=attempt,  # type: ignore[arg-type]
        stopped="cannot connect",
    )
    assert codes(observations) == [code]
    assert exit_code(observations) == 1


def test_greeting_421_mentions_bans() -> None:
    observations = healthy(greeting=reply(421, "Too many failed logins."), login=None, probes=())
    finding = only(observations, "greeting-refused")
    assert "defender" in finding.fix


def test_no_greeting_suggests_implicit_tls() -> None:
    observations = healthy(greeting=None, login=None, probes=(), stopped="no reply within 5s")
    fix = only(observations, "no-greeting").fix
    assert "ftps://host:990/" in fix and "--implicit-tls" in fix


def test_no_greeting_after_implicit_tls_does_not_suggest_it_again() -> None:
    observations = healthy(
        tls_mode="implicit", greeting=None, login=None, probes=(), stopped="no reply within 5s"
    )
    fix = only(observations, "no-greeting").fix
    assert "implicit" not in fix and fix.startswith("The port is not an FTP server")


def login_case(source: str, answer: int, answer_text: str, **changes: object) -> Observations:
    info = LoginInfo(
        user="alice",
        password_source=source,
        ok=False,
        reply=reply(answer, answer_text),
        needed_password=answer != 530 or source != "none",
    )
    return healthy(login=info, probes=(), stopped="login refused", **changes)


def test_missing_password_names_the_three_sources() -> None:
    finding = only(login_case("none", 331, "Password required."), "login-no-password")
    for source in ("URL", "FTPFERRY_PASSWORD", "~/.netrc"):
        assert source in finding.fix


def test_wrong_password() -> None:
    finding = only(login_case("env", 530, "Login incorrect."), "login-refused")
    assert any("env" in item for item in finding.evidence)


def test_plain_login_refused_for_tls() -> None:
    observations = login_case("url", 530, "TLS is required: send AUTH TLS before USER.")
    assert "ftps://" in only(observations, "login-requires-tls").fix


# -- every failure explained, errors first ----------------------------------------------------


def test_unexplained_failure_gets_a_generic_finding() -> None:
    pasv = failed("PASV", failure="reply-timeout", error="no answer within 5s")
    finding = only(with_probes(healthy(), pasv), "data-probe-failed")
    assert "no answer within 5s" in finding.evidence[0]


def test_findings_are_ordered_by_severity() -> None:
    port = failed("PORT", failure="setup-refused", error="x", setup_reply=BOUNCE)
    epsv = failed("EPSV", failure="connect-failed", error="t", connect=timed_out(30002))
    observations = with_probes(healthy(features=("AUTH TLS",)), port, epsv)
    severities = [finding.severity for finding in diagnose(observations)]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert severities[0] == "error" and severities[-1] == "info"


FAILURES = st.sampled_from(
    [
        {"failure": "setup-refused", "setup_reply": reply(501, "No.")},
        {"failure": "setup-refused", "setup_reply": reply(500, "Unknown.")},
        {"failure": "setup-refused", "setup_reply": reply(425, "Busy.")},
        {"failure": "connect-failed", "connect": timed_out(30009)},
        {"failure": "connect-failed", "connect": refused(30009)},
        {"failure": "no-connection", "arrived": False},
        {"failure": "transfer-refused", "transfer_reply": reply(550, "No such dir.")},
        {"failure": "transfer-failed", "final_reply": reply(426, "Broken.")},
        {"failure": "reply-timeout"},
        {"failure": "control-lost"},
        {"failure": "tls-handshake", "tls": True},
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), FAILURES), min_size=4, max_size=4))
def test_every_failed_probe_is_explained(changes: list[dict[str, object] | None]) -> None:
    probes: list[DataProbe] = []
    for command, change in zip(("PASV", "EPSV", "PORT", "EPRT"), changes, strict=True):
        if change is None:
            probes.append(ok_probe(command))  # type: ignore[arg-type]
        else:
            probes.append(failed(command, error="e", **change))  # type: ignore[arg-type]
    observations = replace(healthy(), probes=tuple(probes))
    findings = diagnose(observations)
    explained = {command for finding in findings for command in finding.modes}
    for probe in probes:
        if not probe.works:
            assert probe.command in explained, (probe, findings)
    assert exit_code(observations) == (0 if any(p.works for p in probes) else 1)
    if not any(p.works for p in probes):
        assert findings[0].severity == "error"
