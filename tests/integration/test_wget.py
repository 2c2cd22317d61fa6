"""GNU wget against ftpferry: single files and recursive downloads, passive and active.

wget parses the server's ``LIST`` output itself to recurse, so the
recursive test is really a check that our ``ls -l`` lines are the
Unix format old clients expect.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import PASSWORD, USER, ServerProcess, have
from tests.integration.support import (
    NESTED_TREE,
    check_ok,
    explain,
    fresh_area,
    make_tree,
    random_bytes,
    run_client,
    tree_digest,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not have("wget"), reason="wget is not installed"),
]

MODES = {"passive": [], "active": ["--no-passive-ftp"]}
PASSIVE_VERBS = {"PASV", "EPSV"}
ACTIVE_VERBS = {"PORT", "EPRT"}


@pytest.fixture(params=list(MODES), ids=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    """Each test once passive (wget's default) and once active."""
    return str(request.param)


@pytest.fixture
def area(shared_server: ServerProcess, request: pytest.FixtureRequest) -> str:
    """A fresh directory on the shared server, so tests never see each other's files."""
    return fresh_area(shared_server, request.node.name)


def url(server: ServerProcess, path: str) -> str:
    """An ftp:// URL with the credentials percent-encoded (the password has a space)."""
    credentials = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}"
    return f"ftp://{credentials}@{server.host}:{server.port}/{quote(path)}"


def wget(
    server: ServerProcess, mode: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run wget with one try, short time-outs and its protocol trace (``-d``) on stderr."""
    return run_client(
        ["wget", "-d", "--tries=1", "--timeout=10", "--no-verbose", *MODES[mode], *args], cwd=cwd
    )


def check_mode(result: subprocess.CompletedProcess[str], mode: str, server: ServerProcess) -> None:
    """Assert wget's data connections were all passive, or all active, as asked."""
    sent = {
        line.split()[1]
        for line in result.stderr.splitlines()
        if line.startswith("--> ") and len(line.split()) > 1
    }
    expected, forbidden = (
        (PASSIVE_VERBS, ACTIVE_VERBS) if mode == "passive" else (ACTIVE_VERBS, PASSIVE_VERBS)
    )
    assert sent & expected, explain(result, server)
    assert not sent & forbidden, explain(result, server)


def test_download_file(shared_server: ServerProcess, mode: str, area: str, tmp_path: Path) -> None:
    payload = random_bytes(750_000, area)
    (shared_server.root / area / "file.bin").write_bytes(payload)

    result = wget(
        shared_server, mode, "-O", "out.bin", url(shared_server, f"{area}/file.bin"), cwd=tmp_path
    )
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    assert (tmp_path / "out.bin").read_bytes() == payload


def test_download_name_with_space(
    shared_server: ServerProcess, mode: str, area: str, tmp_path: Path
) -> None:
    (shared_server.root / area / "two words.txt").write_bytes(b"spaced out\n")
    result = wget(shared_server, mode, url(shared_server, f"{area}/two words.txt"), cwd=tmp_path)
    check_ok(result, shared_server)
    assert (tmp_path / "two words.txt").read_bytes() == b"spaced out\n"


def test_continue_download(
    shared_server: ServerProcess, mode: str, area: str, tmp_path: Path
) -> None:
    payload = random_bytes(300_000, area)
    (shared_server.root / area / "big.bin").write_bytes(payload)
    (tmp_path / "big.bin").write_bytes(payload[:100_000])

    result = wget(shared_server, mode, "-c", url(shared_server, f"{area}/big.bin"), cwd=tmp_path)
    check_ok(result, shared_server)
    assert "--> REST 100000" in result.stderr, explain(result, shared_server)
    assert (tmp_path / "big.bin").read_bytes() == payload


def test_missing_file_fails(
    shared_server: ServerProcess, mode: str, area: str, tmp_path: Path
) -> None:
    result = wget(shared_server, mode, url(shared_server, f"{area}/missing.bin"), cwd=tmp_path)
    assert result.returncode == 8, explain(result, shared_server)  # 8: server error response
    assert not (tmp_path / "missing.bin").exists()


def test_recursive_download(
    shared_server: ServerProcess, mode: str, area: str, tmp_path: Path
) -> None:
    source = shared_server.root / area / "tree"
    make_tree(source, seed=area)

    result = wget(
        shared_server,
        mode,
        "--recursive",
        "--level=inf",
        "--no-host-directories",
        "--directory-prefix=out",
        url(shared_server, f"{area}/tree/"),
        cwd=tmp_path,
    )
    check_ok(result, shared_server)
    check_mode(result, mode, shared_server)
    downloaded = tmp_path / "out" / area / "tree"
    assert tree_digest(downloaded) == tree_digest(source)
    assert set(tree_digest(downloaded)) == set(NESTED_TREE)
    assert not list((tmp_path / "out").rglob(".listing")), "wget left .listing files behind"
