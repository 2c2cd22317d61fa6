"""ftplib steps for the NAT lab, run as a script inside a client namespace.

Why a separate script: a socket belongs to the network namespace of the
process that creates it, so the ftplib client must be a process started
with ``ip netns exec NS python ftpclient.py JOB``.  The test passes the job
as JSON on the command line and reads a JSON report from stdout.  Every
step catches its own error and the report says what happened, so one job
can show "active fails, then passive works on the SAME control connection".

Only the standard library is used: this file is executed, never imported
by the tests.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import random
import socket
import sys
import time
from typing import Any


class LabFTP(ftplib.FTP):
    """ftplib with every data-channel command selectable, and its replies kept.

    Stock ftplib sends PASV (IPv4) or EPSV (IPv6) and PORT or EPRT by
    address family; the lab needs all four on IPv4, and needs to see the
    227/229/200 replies to assert what the server advertised.
    ``port_address`` makes PORT/EPRT name another address than the local
    one, as a client configured with its router's public address does.
    """

    passive_command = "PASV"
    active_command = "PORT"
    port_address: str | None = None
    last_setup_reply = ""

    def makepasv(self) -> tuple[str, int]:
        """PASV or EPSV; honour trust_server_pasv_ipv4_address like ftplib does."""
        peer = self.sock.getpeername()
        if self.passive_command == "EPSV":
            reply = self.sendcmd("EPSV")
            self.last_setup_reply = reply
            host, port = ftplib.parse229(reply, peer)
            return host, port
        reply = self.sendcmd("PASV")
        self.last_setup_reply = reply
        advertised, port = ftplib.parse227(reply)
        return (advertised if self.trust_server_pasv_ipv4_address else peer[0]), port

    def makeport(self) -> socket.socket:
        """Listen locally, then send PORT or EPRT naming ``port_address`` or our address."""
        listener = socket.create_server(("", 0), family=socket.AF_INET, backlog=1)
        port = listener.getsockname()[1]
        host = self.port_address or self.sock.getsockname()[0]
        try:
            if self.active_command == "EPRT":
                reply = self.sendcmd(f"EPRT |1|{host}|{port}|")
            else:
                reply = self.sendport(host, port)
        except BaseException:
            listener.close()
            raise
        self.last_setup_reply = reply
        if self.timeout is not None:
            listener.settimeout(self.timeout)
        return listener


def payload(size: int, seed: int) -> bytes:
    """Deterministic pseudo-random bytes, so the test can predict the hash."""
    return random.Random(seed).randbytes(size)


def error_text(exc: BaseException) -> tuple[int | None, str]:
    """(reply code or None, message) for a failed step."""
    if isinstance(exc, ftplib.Error):
        text = str(exc)
        code = int(text[:3]) if text[:3].isdigit() else None
        return code, text
    return None, f"{type(exc).__name__}: {exc}"


def run_step(ftp: LabFTP, step: dict[str, Any]) -> dict[str, Any]:
    """One data-channel operation; never raises."""
    mode = step.get("mode", "PASV")
    result: dict[str, Any] = {"mode": mode, "action": step.get("action", "retr"), "ok": False}
    ftp.last_setup_reply = ""
    ftp.trust_server_pasv_ipv4_address = bool(step.get("trust", False))
    ftp.port_address = step.get("port_address")
    if mode in {"PASV", "EPSV"}:
        ftp.set_pasv(True)
        ftp.passive_command = mode
    else:
        ftp.set_pasv(False)
        ftp.active_command = mode
    started = time.monotonic()
    try:
        if result["action"] == "retr":
            digest = hashlib.sha256()
            received = 0

            def sink(block: bytes) -> None:
                nonlocal received
                digest.update(block)
                received += len(block)

            result["final"] = ftp.retrbinary(f"RETR {step['path']}", sink)
            result["sha256"], result["bytes"] = digest.hexdigest(), received
        elif result["action"] == "stor":
            data = payload(int(step["size"]), int(step.get("seed", 1)))
            result["final"] = ftp.storbinary(f"STOR {step['path']}", io.BytesIO(data))
            result["sha256"], result["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
        elif result["action"] == "setup":
            # Only PASV/EPSV: show what the server advertises, open no connection.
            result["final"] = ftp.sendcmd(mode)
        elif result["action"] == "stat":
            result["final"] = ftp.sendcmd("STAT")
        else:
            raise ValueError(f"unknown action {result['action']!r}")
        result["ok"] = True
    except (ftplib.Error, OSError, EOFError, ValueError) as exc:
        result["code"], result["error"] = error_text(exc)
    result["setup_reply"] = ftp.last_setup_reply
    result["seconds"] = round(time.monotonic() - started, 3)
    if step.get("pause"):
        time.sleep(float(step["pause"]))
    return result


def connect(job: dict[str, Any]) -> LabFTP:
    """Connect and log in with the job's bounded timeout."""
    ftp = LabFTP(timeout=float(job.get("timeout", 5)))
    ftp.connect(job["host"], int(job["port"]))
    ftp.login(job["user"], job["password"])
    return ftp


def session_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the steps in order on ONE control connection."""
    report: dict[str, Any] = {"steps": []}
    try:
        ftp = connect(job)
    except (ftplib.Error, OSError, EOFError) as exc:
        report["login_error"] = error_text(exc)[1]
        return report
    try:
        for step in job["steps"]:
            report["steps"].append(run_step(ftp, step))
        try:
            report["noop_after"] = ftp.sendcmd("NOOP")
        except (ftplib.Error, OSError, EOFError) as exc:
            report["noop_after"] = error_text(exc)[1]
    finally:
        ftp.close()
    return report


def hold_job(job: dict[str, Any]) -> dict[str, Any]:
    """Several control connections each holding a passive listener at once.

    Every connection sends its PASV/EPSV and keeps the listener pending (no
    data connection is made), so the server's range fills up; one more
    connection reports STAT while they are held and after they are gone.
    """
    report: dict[str, Any] = {"replies": []}
    held: list[LabFTP] = []
    try:
        for command in job["commands"]:
            ftp = connect(job)
            held.append(ftp)
            try:
                reply = ftp.sendcmd(command)
            except ftplib.Error as exc:
                reply = str(exc)
            report["replies"].append({"command": command, "reply": reply})
        observer = connect(job)
        report["stat_while_held"] = observer.sendcmd("STAT")
        for ftp in held:
            ftp.quit()
        held.clear()
        deadline = time.monotonic() + float(job.get("release_within", 5))
        while True:
            report["stat_after"] = observer.sendcmd("STAT")
            if " 0/" in report["stat_after"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        observer.quit()
    finally:
        for ftp in held:
            ftp.close()
    return report


def main() -> None:
    """Read the JSON job from argv[1], print the JSON report."""
    job = json.loads(sys.argv[1])
    started, started_at = time.monotonic(), time.time()
    report = hold_job(job) if job.get("op") == "hold" else session_job(job)
    report["seconds"] = round(time.monotonic() - started, 3)
    # Wall-clock times, so concurrent clients in different processes can be compared.
    report["started_at"], report["ended_at"] = started_at, time.time()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
