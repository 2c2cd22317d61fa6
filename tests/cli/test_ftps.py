"""The client commands over FTPS, against real ``ftpferry serve`` processes.

Three servers: one whose certificate a throw-away trustme CA issued (for
127.0.0.1 and localhost), serving explicit FTPS on its control port and
implicit FTPS on a second, high port; one with a self-signed development
certificate and ``--require-tls``, so that anything sent in the clear is
refused; and for the host-name check, one whose certificate names only
``localhost``.  Every command runs as the ``ftpferry`` program in a child
process.  ``-v`` shows the dialogue, which is how the tests see that TLS
was set up the way they asked (AUTH TLS or not, PROT P).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from tests.conftest import PASSWORD, USER, ServerProcess, start_server
from tests.security.support import implicit_port

from .conftest import Cli, CliResult, sha256

pytestmark = pytest.mark.integration

MODES = ("passive", "active")
SELF_SIGNED_CERT = re.compile(r"certificate (\S+\.pem)")


def url(scheme: str, port: int, path: str = "", *, host: str = "127.0.0.1") -> str:
    """``scheme://alice:password@host:port/path``, credentials quoted."""
    return f"{scheme}://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@{host}:{port}/{path}"


def one_line_error(result: CliResult, command: str) -> str:
    """The single ``ftpferry CMD: ...`` line on stderr, and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"ftpferry {command}")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def sent(result: CliResult) -> list[str]:
    """The commands the client sent, as ``-v`` shows them (``-> PROT P``)."""
    return [line for line in result.stderr.splitlines() if line.startswith("-> ")]


# -- servers --------------------------------------------------------------------------------------


@dataclass
class CaSite:
    """A server with a CA-issued certificate, its implicit FTPS port, and the CA."""

    server: ServerProcess
    implicit_port: int
    ca_pem: Path

    def explicit(self, path: str = "", *, host: str = "127.0.0.1") -> str:
        return url("ftps", self.server.port, path, host=host)

    def implicit(self, path: str = "", *, scheme: str = "ftps") -> str:
        return url(scheme, self.implicit_port, path)


def issue(base: Path, *names: str) -> tuple[Path, Path, Path]:
    """A new trustme CA and a certificate for ``names``: (ca, cert, key) files."""
    authority = trustme.CA()
    issued = authority.issue_cert(*names)
    ca, cert, key = base / "ca.pem", base / "cert.pem", base / "key.pem"
    authority.cert_pem.write_to_path(str(ca))
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return ca, cert, key


@pytest.fixture(scope="module")
def ca_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaSite]:
    """Explicit FTPS on the control port, implicit FTPS on another free port."""
    base = tmp_path_factory.mktemp("cli-ftps-ca")
    ca, cert, key = issue(base, "127.0.0.1", "localhost")
    server = start_server(
        base, "--tls-cert", str(cert), "--tls-key", str(key), "--tls-implicit-port", "0", "-v"
    )
    yield CaSite(server, implicit_port(server), ca)
    server.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Self-signed, and TLS required for every login and data connection."""
    server = start_server(
        tmp_path_factory.mktemp("cli-ftps-strict"), "--tls-self-signed", "--require-tls", "-v"
    )
    yield server
    server.stop()


@pytest.fixture
def area(request: pytest.FixtureRequest) -> str:
    """A directory name of its own for each test on a shared server."""
    return re.sub(r"\W+", "-", request.node.name).strip("-")


# -- explicit FTPS, certificate verified against a CA ---------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_put_ls_get_explicit_with_cafile(cli: Cli, ca_site: CaSite, area: str, mode: str) -> None:
    payload = os.urandom(700_000)
    local = cli.cwd / "blob.bin"
    local.write_bytes(payload)
    common = ("--mode", mode, "--cafile", ca_site.ca_pem)
    (ca_site.server.root / area).mkdir()

    put = cli.ok("put", "-v", *common, local, ca_site.explicit(f"{area}/"))
    assert sent(put)[:1] == ["-> AUTH TLS"], put.stderr
    assert "-> PROT P" in sent(put)
    assert (ca_site.server.root / area / "blob.bin").read_bytes() == payload

    listing = cli.ok("ls", "--json", *common, ca_site.explicit(area)).json()
    assert listing["url"].startswith("ftps://")
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("blob.bin", len(payload))]

    local.unlink()
    got = cli.ok("get", "--json", *common, ca_site.explicit(f"{area}/blob.bin")).json()
    assert got["bytes"] == len(payload) and got["mode"] == mode
    assert sha256(local) == sha256(ca_site.server.root / area / "blob.bin")


def test_cafile_verifies_the_host_name_too(cli: Cli, ca_site: CaSite, area: str) -> None:
    """The certificate names 127.0.0.1 and localhost: both verify."""
    (ca_site.server.root / area).mkdir()
    (ca_site.server.root / area / "n.txt").write_text("named\n")
    for host in ("127.0.0.1", "localhost"):
        result = cli.ok("ls", "--cafile", ca_site.ca_pem, ca_site.explicit(area, host=host))
        assert result.stdout.rstrip().endswith("  n.txt"), result.stdout


def test_ca_issued_certificate_untrusted_without_cafile(cli: Cli, ca_site: CaSite) -> None:
    result = cli("ls", ca_site.explicit())
    assert result.returncode == 6, result.stderr
    line = one_line_error(result, "ls")
    assert "certificate" in line and "unable to get local issuer certificate" in line
    assert "--cafile" in line and "--insecure" in line


def test_host_name_not_in_the_certificate(cli: Cli, tmp_path: Path) -> None:
    """A certificate for localhost only, reached as 127.0.0.1: TLS exit code, names the mismatch."""
    ca, cert, key = issue(tmp_path, "localhost")
    server = start_server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        result = cli("ls", "--cafile", ca, url("ftps", server.port))
        assert result.returncode == 6, result.stderr
        line = one_line_error(result, "ls")
        assert "mismatch" in line and "127.0.0.1" in line, line
        assert "CERTIFICATE_VERIFY_FAILED" not in line  # OpenSSL's internals, not for users
        cli.ok("ls", "--cafile", ca, url("ftps", server.port, host="localhost"))
    finally:
        server.stop()


# -- a self-signed certificate: --insecure, or refused --------------------------------------------


def test_put_ls_get_with_insecure(cli: Cli, strict: ServerProcess, area: str) -> None:
    """The server requires TLS on every connection: that these work proves they used it."""
    local = cli.cwd / "note.txt"
    local.write_text("through TLS, unverified\n")
    cli.ok("mkdir", "--insecure", url("ftps", strict.port, area))
    cli.ok("put", "--insecure", local, url("ftps", strict.port, f"{area}/"))
    listing = cli.ok("ls", "--insecure", url("ftps", strict.port, area))
    assert listing.stdout.rstrip().endswith("  note.txt"), listing.stdout
    local.unlink()
    cli.ok("get", "--insecure", url("ftps", strict.port, f"{area}/note.txt"))
    assert local.read_text() == "through TLS, unverified\n"


@pytest.mark.parametrize("command", ["ls", "get", "put"])
def test_self_signed_certificate_refused_without_insecure(
    cli: Cli, strict: ServerProcess, command: str
) -> None:
    (cli.cwd / "x.txt").write_text("x")
    target = url("ftps", strict.port, "x.txt")
    args = {"ls": (target,), "get": (target,), "put": (cli.cwd / "x.txt", target)}[command]
    result = cli(command, *args)
    assert result.returncode == 6, result.stderr
    line = one_line_error(result, command)
    assert "not trusted" in line and "self-signed certificate" in line, line
    assert "--cafile" in line and "--insecure" in line
    assert "_ssl.c" not in line
    assert PASSWORD not in result.stderr


def test_self_signed_certificate_trusted_with_cafile(cli: Cli, strict: ServerProcess) -> None:
    """``--cafile`` with the self-signed certificate itself trusts exactly that server."""
    match = SELF_SIGNED_CERT.search(strict.log())
    assert match, strict.log()
    cli.ok("ls", "--cafile", match.group(1), url("ftps", strict.port))


def test_refusal_as_json(cli: Cli, strict: ServerProcess) -> None:
    result = cli("ls", "--json", url("ftps", strict.port))
    assert result.returncode == 6
    error = result.json()["error"]
    assert error["kind"] == "tls" and error["exit_code"] == 6
    assert "self-signed certificate" in error["message"]


# -- a server that requires TLS, and a plain ftp:// URL -------------------------------------------


def test_plain_url_refused_when_the_server_requires_tls(cli: Cli, strict: ServerProcess) -> None:
    result = cli("ls", "-v", url("ftp", strict.port))
    assert result.returncode == 3, result.stderr
    line = one_line_error(result, "ls")
    assert "530" in line and "TLS is required" in line
    assert "ftps://" in line  # what to do about it, in this command's terms
    assert sent(result) == ["-> USER alice"]  # the password was never sent in the clear


# -- implicit FTPS --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_put_ls_get_implicit_tls(cli: Cli, ca_site: CaSite, area: str, mode: str) -> None:
    payload = os.urandom(300_000)
    local = cli.cwd / "i.bin"
    local.write_bytes(payload)
    common = ("--implicit-tls", "--mode", mode, "--cafile", ca_site.ca_pem)
    (ca_site.server.root / area).mkdir()

    put = cli.ok("put", "-v", *common, local, ca_site.implicit(f"{area}/"))
    assert "-> AUTH TLS" not in sent(put)  # TLS from the first byte: nothing to ask for
    assert "-> PROT P" in sent(put), put.stderr
    assert (ca_site.server.root / area / "i.bin").read_bytes() == payload

    listing = cli.ok("ls", "--json", *common, ca_site.implicit(area)).json()
    assert listing["url"] == f"ftps://{USER}@127.0.0.1:{ca_site.implicit_port}/{area}"
    assert [e["name"] for e in listing["entries"]] == ["i.bin"]

    local.unlink()
    cli.ok("get", *common, ca_site.implicit(f"{area}/i.bin"))
    assert local.read_bytes() == payload


def test_implicit_tls_with_an_ftp_url(cli: Cli, ca_site: CaSite, area: str) -> None:
    """``--implicit-tls`` is what decides, whichever of ftp:// and ftps:// the URL says."""
    (ca_site.server.root / area).mkdir()
    made = ca_site.implicit(f"{area}/made", scheme="ftp")
    result = cli.ok("mkdir", "--json", "--implicit-tls", "--cafile", ca_site.ca_pem, made)
    assert result.json()["url"].startswith("ftps://")
    assert (ca_site.server.root / area / "made").is_dir()


def test_implicit_tls_mirror_and_mv(cli: Cli, ca_site: CaSite, area: str) -> None:
    """Every connection of ``mirror --parallel`` is implicit FTPS, and ``mv`` accepts a URL
    of the same server as its target."""
    source = cli.cwd / "site"
    for index in range(6):
        (source / f"d{index % 2}").mkdir(parents=True, exist_ok=True)
        (source / f"d{index % 2}" / f"f{index}.txt").write_text(f"file {index}\n" * 1000)
    common = ("--implicit-tls", "--cafile", ca_site.ca_pem)
    report = cli.ok(
        "mirror", "--reverse", "--parallel", "3", "--json", *common, source, ca_site.implicit(area)
    ).json()
    assert report["ok"] and len(report["files"]) == 6
    assert sha256(ca_site.server.root / area / "d1" / "f3.txt") == sha256(source / "d1/f3.txt")

    cli.ok("mv", *common, ca_site.implicit(f"{area}/d0/f0.txt"), ca_site.implicit(f"{area}/z.txt"))
    assert (ca_site.server.root / area / "z.txt").is_file()


def test_implicit_tls_without_a_port_means_990(cli: Cli) -> None:
    """As curl and lftp: implicit FTPS defaults to port 990."""
    with socket.socket() as probe:
        probe.settimeout(5)
        if probe.connect_ex(("127.0.0.1", 990)) == 0:
            pytest.skip("something listens on port 990 here")
    result = cli("ls", "--implicit-tls", "--timeout", "5", "ftps://alice:x@127.0.0.1/")
    assert result.returncode == 4, result.stderr
    assert "127.0.0.1 port 990" in one_line_error(result, "ls")


def test_implicit_port_without_implicit_tls_fails_within_the_timeout(
    cli: Cli, ca_site: CaSite
) -> None:
    """An ftps:// URL to the implicit port speaks explicit FTPS, which waits for a greeting
    the server never sends: a bounded failure that points at --implicit-tls."""
    result = cli("ls", "--timeout", "1", "--cafile", ca_site.ca_pem, ca_site.implicit(), timeout=30)
    assert result.returncode == 4, result.stderr
    line = one_line_error(result, "ls")
    assert "greeting" in line and "--implicit-tls" in line, line


def test_implicit_tls_to_the_explicit_port_is_a_tls_failure(cli: Cli, ca_site: CaSite) -> None:
    result = cli(
        "ls", "--implicit-tls", "--timeout", "5", "--cafile", ca_site.ca_pem, ca_site.explicit()
    )
    assert result.returncode == 6, result.stderr
    assert "TLS" in one_line_error(result, "ls")
