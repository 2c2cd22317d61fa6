"""Dynamic DNS: a host name used as the masquerade address is re-resolved.

Home routers get a new public address now and then, and dynamic-DNS users
point ``--masquerade-address`` at a name.  ``ip netns exec`` bind-mounts
``/etc/netns/<namespace>/hosts`` over ``/etc/hosts`` for the server it
starts, so the test changes what the name resolves to for real, inside the
server's namespace only, and watches the PASV reply follow.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path

from .conftest import CONTROL_PORT, PASSWORD, SERVER, USER, Lab

PASV_PROBE = """
import ftplib, sys
ftp = ftplib.FTP()
ftp.connect(sys.argv[1], int(sys.argv[2]), timeout=5)
ftp.login(sys.argv[3], sys.argv[4])
print(ftp.sendcmd("PASV"))
ftp.close()
"""


def _advertised(lab: Lab) -> str:
    run = lab["lanclient"].run(
        [sys.executable, "-c", PASV_PROBE, SERVER, str(CONTROL_PORT), USER, PASSWORD]
    )
    assert run.returncode == 0, run.stderr
    match = re.search(r"\((\d+),(\d+),(\d+),(\d+),\d+,\d+\)", run.stdout)
    assert match, run.stdout
    return ".".join(match.groups())


def test_masquerade_host_name_follows_dns_changes(lab: Lab, tmp_path: Path) -> None:
    etc = Path("/etc/netns") / lab["server"].name
    etc.mkdir(parents=True, exist_ok=True)
    hosts = etc / "hosts"
    hosts.write_text("127.0.0.1 localhost\n198.18.0.77 ftp.dyn.test\n")
    try:
        config = tmp_path / "dyn.toml"
        config.write_text('masquerade_address = "ftp.dyn.test"\nresolve_interval = 0.5\n')
        server = lab.start_server("--config", str(config))
        assert _advertised(lab) == "198.18.0.77"
        # Rewrite in place: the bind mount follows the same inode.
        with hosts.open("r+") as handle:
            handle.seek(0)
            handle.write("127.0.0.1 localhost\n198.18.0.88 ftp.dyn.test\n")
            handle.truncate()
        deadline = time.monotonic() + 10
        seen = ""
        while time.monotonic() < deadline:
            seen = _advertised(lab)
            if seen == "198.18.0.88":
                break
            time.sleep(0.3)
        assert seen == "198.18.0.88", server.log()
        assert "now resolves to 198.18.0.88" in server.log()
        # A failed lookup keeps the last good address instead of breaking PASV.
        with hosts.open("r+") as handle:
            handle.seek(0)
            handle.write("127.0.0.1 localhost\n")
            handle.truncate()
        time.sleep(1.5)
        assert _advertised(lab) == "198.18.0.88"
    finally:
        with contextlib.suppress(OSError):
            hosts.unlink()
            etc.rmdir()
