"""``ftpferry doctor``: why an FTP data channel does (not) work, and what to change.

Theory of operation
-------------------
Three steps, each in its own module, each testable alone:

1. **Observe** (:mod:`.probe`, with :mod:`.dataprobe` and :mod:`.wire`):
   connect, read the greeting, negotiate TLS for ``ftps://``, log in, read
   FEAT, then list the URL's directory once over each of PASV, EPSV, PORT
   and EPRT.  Each probe uses exactly one mode (no fallback) and is
   bounded by the time-out; every step's outcome is recorded as plain
   values (:mod:`.observations`): replies, connect outcomes (time-out vs
   refused), the address a PASV reply named, whether the server's active
   connection arrived, whether TLS resumed the control session.
2. **Diagnose** (:mod:`.findings`): pure rules turn the observations into
   findings, each with a severity, the evidence and the fix.
3. **Report** (:mod:`.report`): a table (rich on a terminal, plain text
   otherwise) or JSON with stable keys.

The exit code is 0 when at least one data-channel mode works, else 1.

Example::

    from ftpferry.client import parse_url
    from ftpferry.doctor import DoctorOptions, Report, render_text, run_doctor

    observations = run_doctor(parse_url("ftp://alice:secret@ftp.example.com/"),
                              DoctorOptions(timeout=5))
    print(render_text(Report.of(observations)))
"""

from .finding import Finding, Severity
from .findings import RULES, diagnose, exit_code
from .observations import (
    DATA_COMMANDS,
    CertificateInfo,
    ConnectInfo,
    DataCommand,
    DataProbe,
    LoginInfo,
    Observations,
    ReplyInfo,
    TLSInfo,
)
from .probe import DoctorOptions, run_doctor
from .report import JSON_VERSION, Report, dumps, render_rich, render_text, to_json

__all__ = [
    "DATA_COMMANDS",
    "JSON_VERSION",
    "RULES",
    "CertificateInfo",
    "ConnectInfo",
    "DataCommand",
    "DataProbe",
    "DoctorOptions",
    "Finding",
    "LoginInfo",
    "Observations",
    "Report",
    "ReplyInfo",
    "Severity",
    "TLSInfo",
    "diagnose",
    "dumps",
    "exit_code",
    "render_rich",
    "render_text",
    "run_doctor",
    "to_json",
]
