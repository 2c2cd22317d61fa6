"""The asyncio FTP client: one object per control connection.

Theory of operation
-------------------
:class:`AsyncFTPClient` holds one :class:`~.login.Session` (a logged-in
control connection) and a :class:`~.datachannel.DataChannelOpener`.  Every
public operation takes the client's lock, so operations started
concurrently on one client run one after another instead of mixing their
replies; use several clients for parallel transfers.

How a transfer runs, and how a failed one leaves the control connection
usable, is described in :mod:`.runner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import errno
import io
import logging
import os
import posixpath
import re
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import BinaryIO, Final, Literal, Self, Unpack

from ftpferry.protocol.listing import format_mdtm

from .config import ClientConfig, ClientOptions
from .datachannel import BlockModeUnsupported, DataChannelOpener, DataConnection, DataRoute
from .entries import Entry, EntryKind, Listing, mdtm_to_datetime, parse_mlsd, parse_mlsx_line
from .errors import ConnectionLost, FTPError, ListingTooLarge, ReplyError, UnsupportedCommand
from .listparse import parse_list
from .login import Session, open_session
from .loops import TreeWalk, WalkStep
from .replies import Features, Reply, parse_pwd_reply
from .runner import Body, TransferPlan, run_transfer
from .transfer import (
    ProgressCallback,
    Ticker,
    TransferResult,
    receive_all,
    receive_to_file,
    send_from_file,
)
from .urls import DEFAULT_PORT, IMPLICIT_TLS_PORT, FTPTarget, parse_url

__all__ = ["HASH_ALGORITHMS", "AsyncFTPClient", "ListingSource", "LocalFile", "WalkStep"]

log = logging.getLogger("ftpferry.client")

LocalFile = str | os.PathLike[str] | BinaryIO
"""A local path, or a binary stream to read from / write to."""
ListingSource = Literal["auto", "LIST"]
"""What :meth:`AsyncFTPClient.listdir` asks for: MLSD when offered, or LIST."""

HASH_ALGORITHMS: Final = {
    # name: (HASH algorithm name, X-command, hex digits)
    "sha256": ("SHA-256", "XSHA256", 64),
    "sha1": ("SHA-1", "XSHA1", 40),
    "md5": ("MD5", "XMD5", 32),
    "sha512": ("SHA-512", "XSHA512", 128),
    "crc32": ("CRC32", "XCRC", 8),
}
_HEX: Final = re.compile(r"\b[0-9a-fA-F]+\b")


def _matches(code: int, expected: tuple[int, ...]) -> bool:
    return any(code == wanted or (wanted < 10 and code // 100 == wanted) for wanted in expected)


class AsyncFTPClient:
    """An asyncio FTP/FTPS client (see the package docstring for a tour).

    Create it with settings (a :class:`ClientConfig` and/or the same
    settings as keywords), then :meth:`connect`; or use :meth:`from_url`
    and ``async with``, which connects on entry and closes on exit.
    """

    def __init__(
        self, config: ClientConfig | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        base = config or ClientConfig()
        self.config = _replace(base, options)
        self.target: FTPTarget | None = None
        self.last_route: DataRoute | None = None
        self.last_transfer: TransferResult | None = None
        self._session: Session | None = None
        self._opener: DataChannelOpener | None = None
        self._lock = asyncio.Lock()
        self._type = "I"
        self._mlsd_broken = False

    @classmethod
    def from_url(
        cls, url: str, config: ClientConfig | None = None, **options: Unpack[ClientOptions]
    ) -> Self:
        """A client for ``ftp://user:pass@host:port/path``; connects on ``async with``."""
        client = cls(config, **options)
        client.target = parse_url(url, implicit_tls=client.config.implicit_tls or None)
        return client

    # -- connection ----------------------------------------------------------------------

    async def connect(
        self,
        url_or_host: str | None = None,
        *,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        tls: bool | None = None,
        implicit_tls: bool | None = None,
    ) -> Reply:
        """Connect and log in; returns the server's greeting.

        ``url_or_host`` is an ``ftp://``/``ftps://`` URL or a host name; None
        uses the URL given to :meth:`from_url`.  Keywords override the URL
        and the configuration.
        """
        if self._session is not None:
            raise FTPError("already connected; close() first")
        target = self._target_for(url_or_host, port, user, tls, implicit_tls)
        self.target = target
        session = await open_session(target, self.config, password=password)
        self._session = session
        self._opener = DataChannelOpener(
            session.control,
            self.config,
            server_key=(target.host, target.port),
            server_hostname=target.host,
            ssl_context=session.ssl_context if session.tls else None,
        )
        self._type = "I"
        return session.welcome

    def _target_for(
        self,
        url_or_host: str | None,
        port: int | None,
        user: str | None,
        tls: bool | None,
        implicit_tls: bool | None,
    ) -> FTPTarget:
        implicit = self.config.implicit_tls if implicit_tls is None else implicit_tls
        if url_or_host is None:
            if self.target is None:
                raise ValueError("connect() needs a URL or host (or use from_url)")
            base = self.target
        elif "://" in url_or_host:
            base = parse_url(url_or_host, implicit_tls=implicit or None)
        else:
            default_port = IMPLICIT_TLS_PORT if implicit else DEFAULT_PORT
            base = FTPTarget(host=url_or_host, port=port or default_port)
        use_tls = (base.tls or self.config.tls or implicit) if tls is None else (tls or implicit)
        return FTPTarget(
            host=base.host,
            port=port or base.port,
            user=user if user is not None else base.user,
            password=base.password,
            path=base.path,
            tls=use_tls,
            implicit_tls=implicit or base.implicit_tls,
        )

    @property
    def connected(self) -> bool:
        """True while logged in over a usable control connection."""
        return self._session is not None and not self._session.control.broken

    @property
    def session(self) -> Session:
        """The logged-in session: greeting, user, password source, TLS state."""
        if self._session is None:
            raise ConnectionLost("not connected")
        return self._session

    @property
    def features(self) -> Features:
        """The server's FEAT reply, parsed (empty before connecting)."""
        return self._session.features if self._session is not None else Features()

    @property
    def last_data_command(self) -> str | None:
        """``EPSV``, ``PASV``, ``EPRT`` or ``PORT``: what carried the last transfer."""
        return self.last_route.command if self.last_route is not None else None

    async def close(self) -> None:
        """Say QUIT (briefly) and close; safe to call twice."""
        session, opener = self._session, self._opener
        self._session = self._opener = None
        if opener is not None:
            opener.close()
        if session is None:
            return
        control = session.control
        if not control.broken:
            with contextlib.suppress(FTPError, OSError):
                await control.send("QUIT")
                await control.read_reply(timeout=2.0)
        await control.close()

    async def __aenter__(self) -> Self:
        if self._session is None and self.target is not None:
            await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- commands ----------------------------------------------------------------------

    def _opened(self) -> tuple[Session, DataChannelOpener]:
        if self._session is None or self._opener is None:
            raise ConnectionLost("not connected")
        return self._session, self._opener

    async def _call(self, line: str, *expected: int, feature: str | None = None) -> Reply:
        """Send a command; raise unless the reply code is one of ``expected``.

        ``expected`` holds exact codes or single digits for a class (2 = any
        2xx).  With ``feature`` set, 500/502/504 raise UnsupportedCommand.
        """
        session, _ = self._opened()
        reply = await session.control.command(line)
        if _matches(reply.code, expected):
            return reply
        if feature is not None and reply.code in {500, 502, 504}:
            raise UnsupportedCommand(feature, f"the server refused it: {reply.text}", reply=reply)
        raise ReplyError.from_reply(reply, expected=expected, command=line)

    async def quote(self, line: str) -> Reply:
        """Send a raw command line and return the final reply, whatever its code.

        Preliminary 1xx replies are read past.  Commands that need a data
        connection do not work this way: use the transfer methods.
        """
        async with self._lock:
            session, opener = self._opened()
            reply = await session.control.command(line)
            while reply.category == 1:
                reply = await session.control.read_reply()
            verb, _, argument = line.partition(" ")
            if verb.upper() == "TYPE" and reply.code == 200:
                self._type = "A" if argument.strip().upper().startswith("A") else "I"
            if verb.upper() == "MODE" and reply.code == 200:
                opener.transfer_mode_set(argument.strip().upper() == "B")
            return reply

    async def site(self, command: str) -> Reply:
        """Send ``SITE command`` (``CHMOD 644 f``, ``HELP`` ...); returns the reply.

        SITE subcommands are server-specific, so the caller gets the whole
        reply (``reply.lines`` for a multi-line ``214`` help text).  A 4xx/5xx
        reply raises ReplyError; 500/502/504, and ``202`` (RFC 959: "not
        implemented, superfluous at this site"), raise UnsupportedCommand
        naming ``SITE <subcommand>``, since the server did not do what was asked.
        """
        subcommand = command.strip().split(" ", 1)[0].upper()
        if not subcommand:
            raise ValueError("SITE needs a subcommand, e.g. site('HELP')")
        line = f"SITE {command.strip()}"
        async with self._lock:
            session, _ = self._opened()
            reply = await session.control.command(line)
            while reply.category == 1:
                reply = await session.control.read_reply()
        feature = f"SITE {subcommand}"
        if reply.code == 202 or reply.code in {500, 502, 504}:
            raise UnsupportedCommand(feature, f"the server refused it: {reply.text}", reply=reply)
        if reply.category != 2:
            raise ReplyError.from_reply(reply, expected=(2,), command=line)
        return reply

    async def pwd(self) -> str:
        """The current remote directory."""
        async with self._lock:
            return parse_pwd_reply(await self._call("PWD", 257))

    async def cwd(self, path: str) -> None:
        """Change the remote directory."""
        async with self._lock:
            await self._call(f"CWD {path}", 2)

    async def mkdir(self, path: str) -> str:
        """Create a directory; returns its path as the server reports it."""
        async with self._lock:
            reply = await self._call(f"MKD {path}", 257, 250)
            return parse_pwd_reply(reply) if reply.code == 257 and '"' in reply.text else path

    async def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        async with self._lock:
            await self._call(f"RMD {path}", 250, 2)

    async def remove(self, path: str) -> None:
        """Delete a file."""
        async with self._lock:
            await self._call(f"DELE {path}", 250, 2)

    async def rename(self, source: str, target: str) -> None:
        """Rename or move ``source`` to ``target`` (RNFR/RNTO)."""
        async with self._lock:
            await self._call(f"RNFR {source}", 350)
            await self._call(f"RNTO {target}", 250, 2)

    async def size(self, path: str) -> int:
        """Size in bytes of a remote file (SIZE, in binary mode)."""
        async with self._lock:
            return await self._size(path)

    async def _size(self, path: str) -> int:
        await self._set_type("I")
        reply = await self._call(f"SIZE {path}", 213, feature="SIZE")
        text = reply.text.strip().split()[0] if reply.text.strip() else ""
        if not text.isdigit():
            raise ReplyError.from_reply(reply, expected=(213,), command=f"SIZE {path}")
        return int(text)

    async def _size_or_none(self, path: str) -> int | None:
        try:
            return await self._size(path)
        except (ReplyError, UnsupportedCommand):
            return None

    async def mtime(self, path: str) -> datetime.datetime:
        """Modification time of a remote file, UTC (MDTM)."""
        async with self._lock:
            reply = await self._call(f"MDTM {path}", 213, feature="MDTM")
            when = mdtm_to_datetime(reply.text.strip().split(" ", 1)[0])
            if when is None:
                raise ReplyError.from_reply(reply, expected=(213,), command=f"MDTM {path}")
            return when

    async def set_mtime(self, path: str, when: datetime.datetime | float) -> None:
        """Set a remote file's modification time (MFMT).

        ``when`` is a datetime (naive means local time, as in Python) or
        seconds since the epoch.  Raises UnsupportedCommand without MFMT.
        """
        async with self._lock:
            if "MFMT" not in self.features:
                raise UnsupportedCommand("MFMT", "the server does not offer MFMT in FEAT")
            seconds = when.timestamp() if isinstance(when, datetime.datetime) else when
            await self._call(f"MFMT {format_mdtm(seconds)} {path}", 2, feature="MFMT")

    async def checksum(self, path: str, algorithm: str = "sha256") -> str:
        """A remote file's digest as lower-case hex, computed by the server.

        Uses HASH (draft-bryan-ftpext-hash) when FEAT lists the algorithm,
        else XSHA256/XSHA1/XMD5/XSHA512/XCRC when FEAT lists that command.
        ``algorithm``: sha256, sha1, md5, sha512 or crc32.
        """
        key = algorithm.lower().replace("-", "")
        if key not in HASH_ALGORITHMS:
            raise ValueError(
                f"unknown algorithm {algorithm!r}; use one of {sorted(HASH_ALGORITHMS)}"
            )
        name, x_command, digits = HASH_ALGORITHMS[key]
        async with self._lock:
            features = self.features
            if "HASH" in features and name in features.hash_algorithms:
                await self._call(f"OPTS HASH {name}", 200, feature="HASH")
                reply = await self._call(f"HASH {path}", 213, feature="HASH")
            elif x_command in features:
                reply = await self._call(f"{x_command} {path}", 2, feature=x_command)
            else:
                raise UnsupportedCommand("HASH", f"FEAT offers neither HASH {name} nor {x_command}")
        for match in _HEX.finditer(reply.text):
            if len(match.group()) == digits:
                return match.group().lower()
        raise ReplyError.from_reply(reply, expected=(reply.code,), command=f"checksum {path}")

    # -- listings ------------------------------------------------------------------------

    async def listdir(self, path: str = "", *, source: ListingSource = "auto") -> Listing:
        """The entries of a remote directory (MLSD when offered, else LIST).

        ``.``/``..`` are left out; LIST lines that do not parse are in
        ``Listing.unparsed``.  ``source="LIST"`` asks for LIST even when
        MLSD is offered: many servers (ftpferry for links to files, pyftpdlib)
        describe what a symbolic link leads to in MLSD and say it is a link,
        with its target, only in LIST.
        """
        if source not in {"auto", "LIST"}:
            raise ValueError(f"source must be 'auto' or 'LIST', not {source!r}")
        async with self._lock:
            return await self._listdir(path, force_list=source == "LIST")

    async def _listdir(self, path: str, *, force_list: bool = False) -> Listing:
        mlsd_refused = False
        if "MLST" in self.features and not self._mlsd_broken and not force_list:
            try:
                data = await self._listing_bytes(f"MLSD {path}".rstrip(), path)
            except UnsupportedCommand:
                mlsd_refused = True
            else:
                return parse_mlsd(self._lines(data))
        command = " ".join(part for part in ("LIST", self.config.list_options, path) if part)
        data = await self._listing_bytes(command, path)
        if mlsd_refused:
            # Only now, with LIST working where MLSD did not: a 500 can also
            # mean "this command line is too long", which LIST gets too.
            self._mlsd_broken = True
            log.warning("the server offers MLST but refuses MLSD; using LIST")
        return parse_list(self._lines(data))

    async def nlst(self, path: str = "") -> list[str]:
        """Bare names in a remote directory (NLST), in the server's order.

        NLST is the one listing every server has, and the cheapest, but it
        says nothing about the names: use :meth:`listdir` to know what they
        are.  Servers that answer ``NLST dir`` with ``dir/name`` lines
        (vsftpd among them) get that prefix removed, so the result is the
        same everywhere.  Some servers refuse NLST of an *empty* directory
        with 450 or 550, which then raises like a missing one.
        """
        async with self._lock:
            data = await self._listing_bytes(f"NLST {path}".rstrip(), path)
        prefix = path.rstrip("/") + "/" if path.strip("/") else ""
        names = []
        for line in self._lines(data):
            name = line[len(prefix) :] if prefix and line.startswith(prefix) else line
            if name and name not in {".", ".."}:
                names.append(name)
        return names

    def _lines(self, data: bytes) -> list[str]:
        text = data.decode(self.config.encoding, "surrogateescape")
        return [line.removesuffix("\r") for line in text.split("\n") if line.strip("\r")]

    async def _listing_bytes(self, command: str, path: str) -> bytes:
        chunks: list[bytes] = []
        limit = self.config.max_listing_bytes

        async def body(connection: DataConnection, ticker: Ticker) -> None:
            try:
                chunks.append(await receive_all(connection, ticker, limit=limit))
            except OverflowError:
                raise ListingTooLarge(command, limit) from None

        plan = TransferPlan(
            command=command, remote=path, direction="listing", feature=command.split(" ", 1)[0]
        )
        await self._run(plan, body, progress=None, restartable=True)
        return b"".join(chunks)

    async def stat(self, path: str) -> Entry:
        """Facts about one remote path: MLST when offered, else SIZE and MDTM."""
        async with self._lock:
            name = posixpath.basename(path.rstrip("/")) or path
            if "MLST" in self.features:
                reply = await self._call(f"MLST {path}", 250, feature="MLST")
                for line in reply.lines[1:-1]:
                    entry = parse_mlsx_line(line) or parse_mlsx_line(line.lstrip())
                    if entry is not None:
                        return dataclasses.replace(entry, name=name)
                raise ReplyError.from_reply(reply, expected=(250,), command=f"MLST {path}")
            return await self._stat_without_mlst(path, name)

    async def _stat_without_mlst(self, path: str, name: str) -> Entry:
        try:
            size = await self._size(path)
        except ReplyError as exc:
            if not await self._is_directory(path):
                raise exc from None
            return Entry(name=name, kind=EntryKind.DIR, raw="")
        modify = None
        with contextlib.suppress(ReplyError, UnsupportedCommand):
            reply = await self._call(f"MDTM {path}", 213, feature="MDTM")
            modify = mdtm_to_datetime(reply.text.strip().split(" ", 1)[0])
        return Entry(name=name, kind=EntryKind.FILE, size=size, modify=modify, raw="")

    async def _is_directory(self, path: str) -> bool:
        session, _ = self._opened()
        here = parse_pwd_reply(await self._call("PWD", 257))
        reply = await session.control.command(f"CWD {path}")
        if reply.category != 2:
            return False
        await self._call(f"CWD {here}", 2)
        return True

    async def walk(self, path: str = "") -> AsyncIterator[WalkStep]:
        """Walk a remote tree top-down, like :func:`os.walk`.

        Yields ``(dirpath, dirnames, filenames)``; remove names from
        ``dirnames`` to skip those subdirectories.  Symbolic links are
        listed in ``filenames`` and not followed, but many servers list a
        link to a directory as the directory: a directory that turns out
        to be an ancestor over again is not entered (see :mod:`.loops`).  A subdirectory that cannot
        be listed is skipped; an error listing ``path`` itself is raised
        (but note that some LIST-only servers, vsftpd among them, list a
        missing directory as an empty one).
        """
        walk = TreeWalk(path)
        first = True
        while (current := walk.next_path()) is not None:
            try:
                listing = await self.listdir(current)
            except ReplyError:
                if first:
                    raise
                log.warning("walk: cannot list %s; skipped", current)
                continue
            first = False
            step = walk.visit(listing)
            if step is not None:
                yield step
                walk.descend(step)

    # -- transfers -----------------------------------------------------------------------

    async def _set_type(self, wanted: str) -> None:
        if self._type != wanted:
            await self._call(f"TYPE {wanted}", 200)
            self._type = wanted

    async def download(
        self,
        remote: str,
        local: LocalFile,
        *,
        resume: bool = False,
        offset: int | None = None,
        ascii_mode: bool = False,
        progress: ProgressCallback | None = None,
        size: int | None = None,
        follow_symlinks: bool = True,
    ) -> TransferResult:
        """Download ``remote`` into a local path or a writable binary stream.

        ``resume=True`` continues a partial local file with REST (and does
        nothing when it is already complete); ``offset`` starts the remote
        file at that byte instead (written at the file's same offset, or at
        a stream's current position).  ``ascii_mode`` converts CRLF to LF.
        A local file is opened only once the server has started sending, so
        a failed download (no such remote file) leaves it as it was.
        ``size``, when the caller knows it from a listing, saves the SIZE
        round trip (mirrors of many small files feel that).
        ``follow_symlinks=False`` refuses (OSError ``ELOOP``) to write
        through a symbolic link standing at the local path, as a mirror
        must: a link a server once had it create could point anywhere.
        """
        if ascii_mode and (resume or offset):
            raise ValueError("resuming an ASCII-mode transfer is not well defined")
        async with self._lock:
            if ascii_mode:
                total = None
            elif size is not None:
                total = size
            else:
                total = await self._size_or_none(remote)
            if not isinstance(local, str | os.PathLike):
                if resume:
                    raise ValueError("resume needs a local path; pass offset= for a stream")
                stream = local
                return await self._retrieve(
                    remote,
                    lambda: contextlib.nullcontext(stream),
                    offset or 0,
                    total,
                    ascii_mode,
                    progress,
                )
            path = os.fspath(local)  # a string, not a Path: cheaper per file of a mirror
            if resume and not follow_symlinks and os.path.islink(path):
                raise _symlink_in_the_way(path)  # before sizing up what it points to
            start = offset or 0
            if offset is None and resume and os.path.exists(path):
                start = os.stat(path).st_size
                if total is not None and start >= total:
                    if start == total:
                        return self._skipped(remote, "download", start)
                    start = 0  # the local file is longer: it is not a prefix
            return await self._retrieve(
                remote,
                lambda: _open_for_download(path, start, follow_symlinks=follow_symlinks),
                start,
                total,
                ascii_mode,
                progress,
                splice=True,
            )

    async def _retrieve(
        self,
        remote: str,
        open_local: Callable[[], contextlib.AbstractContextManager[BinaryIO]],
        offset: int,
        total: int | None,
        ascii_mode: bool,
        progress: ProgressCallback | None,
        *,
        splice: bool = False,
    ) -> TransferResult:
        async def body(connection: DataConnection, ticker: Ticker) -> None:
            with open_local() as file:
                await receive_to_file(
                    connection, file, ticker, ascii_mode=ascii_mode, splice=splice
                )
                file.flush()

        await self._set_type("A" if ascii_mode else "I")
        plan = TransferPlan(
            command=f"RETR {remote}",
            remote=remote,
            direction="download",
            rest=offset,
            offset=offset,
            total=total,
        )
        # A file the client opened itself (``splice``) is opened again from the start.
        return await self._run(plan, body, progress=progress, restartable=splice)

    async def upload(
        self,
        local: LocalFile,
        remote: str,
        *,
        resume: bool = False,
        ascii_mode: bool = False,
        progress: ProgressCallback | None = None,
    ) -> TransferResult:
        """Upload a local path or a readable binary stream to ``remote``.

        ``resume=True`` asks SIZE and, when the remote file is a shorter
        prefix, sends only the rest with APPE (and nothing when the sizes
        match).  Streams are sent from their current position (resuming
        needs a seekable one).  ``ascii_mode`` converts LF to CRLF.
        """
        if ascii_mode and resume:
            raise ValueError("resuming an ASCII-mode transfer is not well defined")
        async with self._lock:
            if isinstance(local, str | os.PathLike):
                with open(local, "rb") as file:
                    return await self._store(file, remote, resume, ascii_mode, progress)
            return await self._store(local, remote, resume, ascii_mode, progress)

    async def _store(
        self,
        file: BinaryIO,
        remote: str,
        resume: bool,
        ascii_mode: bool,
        progress: ProgressCallback | None,
    ) -> TransferResult:
        start = file.tell() if file.seekable() else 0
        total: int | None = None
        if file.seekable():
            total = file.seek(0, os.SEEK_END)
            file.seek(start)
        offset = 0
        if resume:
            if total is None:
                raise ValueError("resuming an upload needs a seekable stream")
            remote_size = await self._size_or_none(remote)
            if remote_size is not None and remote_size == total - start:
                return self._skipped(remote, "upload", remote_size)
            if remote_size is not None and 0 < remote_size < total - start:
                offset = remote_size
                file.seek(start + offset)
        command = f"APPE {remote}" if offset else f"STOR {remote}"
        _, opener = self._opened()
        if ascii_mode or total is None:
            opener.avoid_unproven_blocks()  # the size check below could not tell

        async def body(connection: DataConnection, ticker: Ticker) -> None:
            await send_from_file(connection, file, ticker, ascii_mode=ascii_mode)

        await self._set_type("A" if ascii_mode else "I")
        plan = TransferPlan(
            command=command,
            remote=remote,
            direction="upload",
            offset=offset,
            total=None if total is None else total - start,
        )
        result = await self._run(plan, body, progress=progress)
        if opener.blocks_unproven and total is not None:
            # The first upload in block mode: a server that took MODE B without
            # doing it has stored the block headers too, which SIZE shows.
            if await self._size_or_none(remote) == total - start:
                opener.prove_blocks()
            else:
                log.warning("the server accepted MODE B but stored the blocks; using stream mode")
                opener.abandon_block_mode()
                file.seek(start)  # all of it again: an APPE would append to the damage
                return await self._store(file, remote, False, ascii_mode, progress)
        return result

    async def _run(
        self,
        plan: TransferPlan,
        body: Body,
        *,
        progress: ProgressCallback | None,
        restartable: bool = False,
    ) -> TransferResult:
        """Run one transfer; once more, in stream mode, when block mode turned out
        not to work and ``body`` can start over (a listing, a file opened here)."""
        session, opener = self._opened()
        keepalive = self.config.keepalive
        try:
            result = await run_transfer(
                session.control, opener, plan, body, progress=progress, keepalive=keepalive
            )
        except BlockModeUnsupported:
            if not restartable:
                raise
            result = await run_transfer(
                session.control, opener, plan, body, progress=progress, keepalive=keepalive
            )
        self.last_route = result.route
        self.last_transfer = result
        return result

    def _skipped(self, remote: str, direction: str, size: int) -> TransferResult:
        log.info("%s %s: already complete (%d bytes)", direction, remote, size)
        result = TransferResult(
            remote=remote,
            direction=direction,
            transferred=0,
            offset=size,
            seconds=0.0,
            route=None,
            keepalives=0,
            reply=None,
            skipped=True,
        )
        self.last_transfer = result
        return result


def _symlink_in_the_way(path: str) -> OSError:
    return OSError(errno.ELOOP, "a symbolic link is in the way (not written through)", path)


def _open_for_download(path: str, start: int, *, follow_symlinks: bool = True) -> BinaryIO:
    """Open ``path`` for writing at ``start``, keeping what comes before it.

    Unbuffered, so the descriptor's position is the file's and the download
    may ``splice`` into it.  Without ``follow_symlinks``, ``O_NOFOLLOW``
    makes the check atomic: a link that appeared since is refused too.
    """
    flags = os.O_WRONLY | os.O_CREAT | (0 if start else os.O_TRUNC)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise _symlink_in_the_way(path) from None
        raise
    file = io.FileIO(descriptor, "w")
    try:
        if start:  # O_TRUNC already emptied the file otherwise
            file.truncate(start)
            file.seek(start)
    except BaseException:
        file.close()
        raise
    return file


def _replace(config: ClientConfig, options: ClientOptions) -> ClientConfig:
    return dataclasses.replace(config, **options) if options else config
