"""ftpferry's FTP/FTPS client library: asyncio, with a blocking twin.

Quick tour
----------
Blocking::

    from ftpferry.client import FTPClient

    with FTPClient.from_url("ftp://alice:secret@127.0.0.1:2121/") as ftp:
        for entry in ftp.listdir("docs"):
            print(entry.kind, entry.size, entry.modify, entry.name)
        ftp.download("docs/report.pdf", "report.pdf", resume=True)
        ftp.upload("notes.txt", "docs/notes.txt")
        print(ftp.last_data_command)          # "EPSV", "PASV", "EPRT" or "PORT"

asyncio::

    from ftpferry.client import AsyncFTPClient

    async with AsyncFTPClient.from_url("ftps://alice@ftp.example.com/", cafile="ca.pem") as ftp:
        async for dirpath, dirnames, filenames in ftp.walk("site"):
            ...

or without a URL: ``client = AsyncFTPClient(mode="active")`` then
``await client.connect("ftp.example.com", port=21, user="alice", password="...", tls=True)``
and ``await client.close()``.

Both classes take a :class:`ClientConfig`, or the same settings as
keyword arguments (:class:`ClientOptions`), and have the same methods:

=====================================================  ====================================
``connect(url_or_host=None, *, port, user, password,   connect and log in; returns the 220
tls, implicit_tls) -> Reply``                          greeting
``close()``                                            QUIT and close (context managers
                                                       call it)
``listdir(path="", *, source="auto") -> Listing``      entries (MLSD when FEAT offers MLST,
                                                       else LIST, parsed); ``.unparsed``
                                                       holds lines no parser understood;
                                                       ``source="LIST"`` forces LIST
``walk(path="")``                                      ``(dirpath, dirnames, filenames)``
                                                       top-down, like :func:`os.walk`
``stat(path) -> Entry``                                MLST, else SIZE + MDTM
``nlst(path="") -> list[str]``                         bare names (NLST), a ``dir/``
                                                       prefix some servers add removed
``download(remote, local, *, resume=False,             to a path or binary stream; REST
offset=None, ascii_mode=False, progress=None,          resume; returns TransferResult;
follow_symlinks=True)``                                False: never through a local link
``upload(local, remote, *, resume=False,               from a path or binary stream;
ascii_mode=False, progress=None)``                     resume = SIZE then APPE
``mkdir(path) -> str``, ``rmdir``, ``remove``,         name-space operations
``rename(source, target)``, ``pwd() -> str``,
``cwd(path)``
``size(path) -> int``, ``mtime(path) -> datetime``,    SIZE, MDTM, MFMT
``set_mtime(path, when)``
``checksum(path, algorithm="sha256") -> str``          HASH or XSHA256/XSHA1/XMD5...
``site(command) -> Reply``                             ``SITE command``; 4xx/5xx raise,
                                                       unknown subcommands raise
                                                       UnsupportedCommand
``quote(line) -> Reply``                               any raw command, reply returned
                                                       whatever its code
``features``, ``session``, ``last_route``,             FEAT; login details; how the last
``last_data_command``, ``last_transfer``               transfer went
=====================================================  ====================================

``progress(done, total)`` callbacks get the bytes of the file transferred so
far (including a resumed offset) and its size when known; raising from one
cancels the transfer and leaves the session usable.  :class:`FTPClient`
runs an :class:`AsyncFTPClient` on a private event loop in a daemon
thread, so its callbacks run in that thread.  One client carries one
operation at a time (concurrent calls on an async client queue up); use
several clients for parallel transfers.  ``list_options="-a"`` makes LIST
show dot files on servers such as vsftpd.

Data channel
------------
``mode="auto"`` (default) tries passive (EPSV, then PASV) and, when the data
connection cannot be made, retries the same operation in active mode (EPRT,
then PORT) and remembers per (host, port), process-wide, what worked
(:func:`remembered_mode`, :func:`forget_modes`); the reason is logged on
the ``ftpferry.client`` logger.  ``mode="passive"``/``"active"`` use one
mode only.  ``active_address`` and ``active_ports`` set what active mode
advertises and listens on.  A PASV reply naming a private address other
than the server's is replaced by the server's address, as curl does,
unless ``trust_pasv_address=True``.  :class:`DataRoute` (``last_route``)
says which mode, command, address and port carried a transfer.

FTPS and passwords
------------------
``ftps://`` URLs (or ``tls=True``) mean explicit FTPS: AUTH TLS, PBSZ 0,
PROT P; ``implicit_tls=True`` (or ``ftps://`` with port 990) means TLS from
the first byte.  Certificates are verified unless ``verify=False``;
``cafile`` adds CAs; ``ssl_context`` replaces it all.  Data connections
resume the control connection's TLS session, as vsftpd requires.  A
missing password is looked for in ``FTPFERRY_PASSWORD``, then ``~/.netrc``,
then (only with ``ask_password=True``) by prompting.

Errors
------
Network and protocol failures derive from :class:`FTPError` (bad arguments
raise ValueError; local file errors stay the OSError they are):
:class:`ReplyError` (``code``, ``text``, ``expected``, ``command``) with
:class:`TemporaryError` (4xx), :class:`PermanentError` (5xx) and
:class:`LoginError`; :class:`ServiceClosing` (421: a TemporaryError that is
also a ConnectionLost); :class:`DataConnectionError` (``mode``,
``address``, ``port``, ``os_error``, ``reply``); :class:`ConnectionLost` and
:class:`ConnectionFailed`; :class:`FTPTimeout` (:class:`NoGreeting` when the
greeting never came); :class:`TLSError`;
:class:`UnsupportedCommand`; :class:`ProtocolError` (:class:`ListingTooLarge` past
``max_listing_bytes``).

Naming note: ``listdir``, ``Entry.kind`` and ``ascii_mode`` are spelled so
as not to shadow the builtins ``list``, ``type`` and ``ascii`` (see the
house style).
"""

from .asyncclient import HASH_ALGORITHMS, AsyncFTPClient, ListingSource, LocalFile, WalkStep
from .config import ClientConfig, ClientOptions, Mode, parse_port_range
from .datachannel import DataRoute
from .entries import Entry, EntryKind, Listing, parse_mlsx_line
from .errors import (
    ConnectionFailed,
    ConnectionLost,
    DataConnectionError,
    FTPError,
    FTPTimeout,
    ListingTooLarge,
    LoginError,
    NoGreeting,
    PermanentError,
    ProtocolError,
    ReplyError,
    ServiceClosing,
    TemporaryError,
    TLSError,
    UnsupportedCommand,
)
from .listparse import parse_list, parse_list_line
from .login import Session
from .modes import forget_modes, remembered_mode
from .replies import Features, Reply
from .syncclient import FTPClient
from .transfer import ProgressCallback, TransferResult
from .urls import PASSWORD_ENV, FTPTarget, ResolvedLogin, parse_url, resolve_password

__all__ = [
    "HASH_ALGORITHMS",
    "PASSWORD_ENV",
    "AsyncFTPClient",
    "ClientConfig",
    "ClientOptions",
    "ConnectionFailed",
    "ConnectionLost",
    "DataConnectionError",
    "DataRoute",
    "Entry",
    "EntryKind",
    "FTPClient",
    "FTPError",
    "FTPTarget",
    "FTPTimeout",
    "Features",
    "Listing",
    "ListingSource",
    "ListingTooLarge",
    "LocalFile",
    "LoginError",
    "Mode",
    "NoGreeting",
    "PermanentError",
    "ProgressCallback",
    "ProtocolError",
    "Reply",
    "ReplyError",
    "ResolvedLogin",
    "ServiceClosing",
    "Session",
    "TLSError",
    "TemporaryError",
    "TransferResult",
    "UnsupportedCommand",
    "WalkStep",
    "forget_modes",
    "parse_list",
    "parse_list_line",
    "parse_mlsx_line",
    "parse_port_range",
    "parse_url",
    "remembered_mode",
    "resolve_password",
]
