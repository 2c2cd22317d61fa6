"""``ftpferry doctor --implicit-tls`` against a real server's implicit FTPS port.

Implicit FTPS is conventionally port 990, which a test cannot bind without
root; the server here serves it on a free high port (``--tls-implicit-port
0``, read back from its banner), which is exactly the case ``ftps://`` alone
cannot express: ``--implicit-tls`` says so.  The server also requires TLS
session reuse, so every data probe that works proves it resumed the
implicit control connection's session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from tests.conftest import PASSWORD, USER, ServerProcess, start_server
from tests.security.support import implicit_port

from .test_doctor_server import doctor

pytestmark = pytest.mark.integration


@dataclass
class ImplicitSite:
    """A server with explicit FTPS on its control port and implicit FTPS on another."""

    server: ServerProcess
    implicit_port: int
    ca_pem: Path

    def url(self, port: int, scheme: str = "ftps") -> str:
        secret = quote(PASSWORD, safe="")
        return f"{scheme}://{USER}:{secret}@127.0.0.1:{port}/"

    @property
    def implicit(self) -> str:
        return self.url(self.implicit_port)

    @property
    def explicit(self) -> str:
        return self.url(self.server.port)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImplicitSite]:
    base = tmp_path_factory.mktemp("doctor-implicit")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    ca, cert, key = base / "ca.pem", base / "cert.pem", base / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    tls = ("--tls-cert", str(cert), "--tls-key", str(key), "--tls-require-session-reuse")
    server = start_server(base, *tls, "--tls-implicit-port", "0")
    (server.root / "readme.txt").write_text("hello\n")
    yield ImplicitSite(server, implicit_port(server), ca)
    server.stop()


def test_implicit_tls_on_a_high_port(site: ImplicitSite) -> None:
    run = doctor("--json", "--implicit-tls", "--cafile", str(site.ca_pem), site.implicit)
    assert run.returncode == 0, run.explain()
    data = run.json()
    assert data["tls_mode"] == "implicit"
    assert data["tls"]["mode"] == "implicit" and data["tls"]["reply"] is None  # no AUTH TLS
    assert data["tls"]["ok"] and data["tls"]["verified"]
    assert data["port"] == site.implicit_port
    for command, probe in data["modes"].items():
        assert probe["ok"], (command, run.explain())
        assert probe["tls"] and probe["tls_session_reused"] is True, command
    assert not [f for f in data["findings"] if f["severity"] == "error"], run.explain()
    assert not any(line.startswith("-> AUTH") for line in data["dialogue"])


def test_implicit_tls_plain_text_report(site: ImplicitSite) -> None:
    run = doctor("--implicit-tls", "--insecure", site.implicit)
    assert run.returncode == 0, run.explain()
    assert re.search(r"implicit: TLSv1\.[23]", run.stdout), run.stdout


def test_implicit_port_without_the_option_says_to_use_it(site: ImplicitSite) -> None:
    """ftps:// on a port other than 990 means explicit FTPS: the server says nothing."""
    run = doctor("--json", "--timeout", "1", "--cafile", str(site.ca_pem), site.implicit)
    assert run.returncode == 1, run.explain()
    data = run.json()
    assert data["tls_mode"] == "explicit"
    assert run.codes() == ["no-greeting"], run.explain()
    assert "--implicit-tls" in data["findings"][0]["fix"]


def test_implicit_untrusted_certificate_is_shown(site: ImplicitSite) -> None:
    """Without --cafile: refused, and the certificate read again (over implicit TLS) to show it."""
    run = doctor("--json", "--implicit-tls", site.implicit)
    assert run.returncode == 1, run.explain()
    data = run.json()
    assert data["tls"]["mode"] == "implicit" and data["tls"]["problem"] == "untrusted"
    certificate = data["tls"]["certificate"]
    assert certificate is not None, run.explain()
    assert "127.0.0.1" in certificate["names"] and not certificate["self_signed"]
    assert run.codes() == ["tls-certificate-untrusted"]


def test_implicit_tls_to_the_explicit_port(site: ImplicitSite) -> None:
    """The explicit port answers a TLS hello in plain text: the fix says to drop the option."""
    run = doctor("--json", "--timeout", "2", "--implicit-tls", "--insecure", site.explicit)
    assert run.returncode == 1, run.explain()
    data = run.json()
    assert data["tls"]["mode"] == "implicit" and not data["tls"]["ok"]
    assert run.codes() == ["tls-handshake-failed"], run.explain()
    assert "leave --implicit-tls out" in data["findings"][0]["fix"]


def test_implicit_tls_with_an_ftp_url_and_the_default_port() -> None:
    """--implicit-tls decides whatever the scheme, and without a port means 990."""
    run = doctor("--json", "--timeout", "1", "--implicit-tls", "ftp://alice:x@127.0.0.1/")
    data = run.json()
    assert data["tls_mode"] == "implicit" and data["port"] == 990, run.explain()
