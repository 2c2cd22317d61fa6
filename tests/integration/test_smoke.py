"""The smallest end-to-end check: a real server, ftplib, both data modes."""

from __future__ import annotations

import ftplib
import io

import pytest

from tests.conftest import PASSWORD, USER, ServerProcess


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_upload_list_download(server: ServerProcess, passive: bool) -> None:
    payload = bytes(range(256)) * 4000
    with ftplib.FTP() as ftp:
        ftp.connect(server.host, server.port, timeout=10)
        ftp.login(USER, PASSWORD)
        ftp.set_pasv(passive)
        ftp.storbinary("STOR data.bin", io.BytesIO(payload))
        assert "data.bin" in ftp.nlst()
        received = io.BytesIO()
        ftp.retrbinary("RETR data.bin", received.write)
    assert received.getvalue() == payload
    assert (server.root / "data.bin").read_bytes() == payload
