"""Hand-made observations for the rule and report tests: a healthy run by
default, changed field by field with :func:`dataclasses.replace`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ftpferry.doctor import (
    CertificateInfo,
    ConnectInfo,
    DataCommand,
    DataProbe,
    LoginInfo,
    Observations,
    ReplyInfo,
    TLSInfo,
)

PEER = "198.18.0.1"
LOCAL = "10.91.1.2"
PORTS = {"PASV": 30001, "EPSV": 30002, "PORT": 40001, "EPRT": 40002}


def reply(code: int, text: str = "") -> ReplyInfo:
    """A reply value."""
    return ReplyInfo(code=code, text=text or f"text of {code}")


def connected(port: int, host: str = PEER) -> ConnectInfo:
    """A successful connect."""
    return ConnectInfo(host=host, port=port, outcome="ok", seconds=0.01)


def timed_out(port: int, host: str = PEER, seconds: float = 5.0) -> ConnectInfo:
    """A connect whose packets were dropped."""
    return ConnectInfo(host=host, port=port, outcome="timeout", seconds=seconds, error="timed out")


def refused(port: int, host: str = PEER) -> ConnectInfo:
    """A connect answered by a reset."""
    return ConnectInfo(
        host=host, port=port, outcome="refused", seconds=0.01, error="Connection refused"
    )


def ok_probe(command: DataCommand, **changes: Any) -> DataProbe:
    """A probe that worked, as the doctor records it."""
    port = PORTS[command]
    if command == "PASV":
        base = DataProbe(
            command="PASV",
            ok=True,
            seconds=0.02,
            setup_reply=reply(227, f"Entering Passive Mode (198,18,0,1,{port >> 8},{port & 255})."),
            advertised_host=PEER,
            advertised_port=port,
            connect=connected(port),
        )
    elif command == "EPSV":
        base = DataProbe(
            command="EPSV",
            ok=True,
            seconds=0.02,
            setup_reply=reply(229, f"Entering Extended Passive Mode (|||{port}|)"),
            advertised_port=port,
            connect=connected(port),
        )
    else:
        base = DataProbe(
            command=command,
            ok=True,
            seconds=0.02,
            setup_reply=reply(200, f"{command} command successful."),
            advertised_host=LOCAL,
            advertised_port=port,
            listen=f"{LOCAL} {port}",
            arrived=True,
            arrived_from=PEER,
        )
    base = replace(
        base,
        transfer_reply=reply(150, "Here comes the listing."),
        final_reply=reply(226, "Transfer complete."),
        bytes_received=120,
    )
    return replace(base, **changes)


def failed(command: DataCommand, **changes: Any) -> DataProbe:
    """A probe that failed; ``changes`` say how (failure, replies, connect ...)."""
    base = ok_probe(command, ok=False, final_reply=None, bytes_received=0)
    return replace(base, **changes)


def healthy(**changes: Any) -> Observations:
    """Observations of a server where everything works."""
    base = Observations(
        url=f"ftp://alice@{PEER}:2121/",
        host=PEER,
        port=2121,
        tls_mode="none",
        timeout=5.0,
        control=connected(2121),
        peer_address=PEER,
        local_address=LOCAL,
        greeting=reply(220, "ftpferry 0.1.0 ready."),
        login=LoginInfo(
            user="alice",
            password_source="url",
            ok=True,
            reply=reply(230, "User alice logged in."),
            needed_password=True,
        ),
        features=("EPRT", "EPSV", "MLST type*;size*;", "PASV", "UTF8"),
        probes=tuple(ok_probe(command) for command in ("PASV", "EPSV", "PORT", "EPRT")),
    )
    return replace(base, **changes)


def with_probes(observations: Observations, *probes: DataProbe) -> Observations:
    """Replace the probes of the same commands."""
    by_command = {probe.command: probe for probe in probes}
    return replace(
        observations,
        probes=tuple(by_command.get(probe.command, probe) for probe in observations.probes),
    )


SELF_SIGNED = CertificateInfo(
    subject="ftpferry 127.0.0.1",
    issuer="ftpferry 127.0.0.1",
    self_signed=True,
    names=("localhost", "127.0.0.1", "::1"),
    not_after="2027-01-01 00:00 UTC",
    sha256="AB:CD:EF",
)


def tls_failed(problem: str, **changes: Any) -> TLSInfo:
    """A TLS set-up that failed with ``problem``."""
    base = TLSInfo(
        mode="explicit",
        ok=False,
        verified=False,
        problem=problem,  # type: ignore[arg-type]
        error="certificate verify failed: self-signed certificate",
        reply=reply(234, "AUTH TLS ok."),
        certificate=SELF_SIGNED,
    )
    return replace(base, **changes)
