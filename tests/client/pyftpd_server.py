"""A pyftpdlib server for the client tests, run as its own process.

``python tests/client/pyftpd_server.py --root DIR --user U --password P``
prints ``READY <port>`` once it listens on 127.0.0.1.  Options switch on
what stock pyftpdlib lacks or switch off what it has, so the client meets
server behaviours ftpferry does not have:

* ``--hash``: HASH (with ``OPTS HASH``), XSHA256, XSHA1 and XMD5, listed in FEAT;
* ``--no-epsv`` / ``--no-eprt`` / ``--no-mlst`` / ``--no-mfmt``: those
  commands answer ``500 Command not understood`` and leave FEAT;
* ``--masquerade ADDR``: the address PASV replies name;
* ``--certfile``/``--keyfile``: FTPS (AUTH TLS, PBSZ, PROT); needs pyOpenSSL;
* ``--say-mode-b``: ``MODE B`` is answered ``200`` but the data stays in
  stream mode, as a server that accepts what it does not do;
* ``--list-follows-links``: LIST shows what a symbolic link leads to, a
  link to a directory as a directory (ProFTPD's ``ShowSymlinks off``);
  with ``--no-mlst`` nothing says it is a link, and no ``unique`` fact
  tells a directory loop;
* ``--endless-listing``: every LIST and MLSD sends lines without end;
* ``--inject-listing FILE``: a hostile server.  FILE is JSON,
  ``{"dir": {"LIST": [lines], "MLSD": [lines]}}`` with ``dir`` relative to
  the root ("" for the root); those lines are sent after the real entries
  whenever that directory is listed, so a listing can name things the disk
  does not have (a link and a file of the same name, say).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

from pyftpdlib.authorizers import DummyAuthorizer  # type: ignore[import-untyped]
from pyftpdlib.filesystems import AbstractedFS  # type: ignore[import-untyped]
from pyftpdlib.handlers import FTPHandler  # type: ignore[import-untyped]
from pyftpdlib.servers import FTPServer  # type: ignore[import-untyped]

_HASHES = {"SHA-256": hashlib.sha256, "SHA-1": hashlib.sha1, "MD5": hashlib.md5}


def _digest(path: str, algorithm: str) -> str:
    digest = _HASHES[algorithm]()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class HashMixin:
    """HASH (draft-bryan-ftpext-hash) and the older X commands."""

    hash_algorithm = "SHA-256"

    def _file_digest(self: Any, path: str, algorithm: str, ok: str) -> None:
        if not os.path.isfile(path):
            self.respond("550 Not a regular file.")
            return
        digest = _digest(path, algorithm)
        if ok == "213":
            size = os.path.getsize(path)
            end = max(size - 1, 0)
            self.respond(f"213 {algorithm} 0-{end} {digest} {os.path.basename(path)}")
        else:
            self.respond(f"250 {digest}")

    def ftp_HASH(self, path: str) -> None:
        self._file_digest(path, self.hash_algorithm, "213")

    def ftp_XSHA256(self, path: str) -> None:
        self._file_digest(path, "SHA-256", "250")

    def ftp_XSHA1(self, path: str) -> None:
        self._file_digest(path, "SHA-1", "250")

    def ftp_XMD5(self, path: str) -> None:
        self._file_digest(path, "MD5", "250")


class EndlessFS(AbstractedFS):  # type: ignore[misc]
    """Listings that never end, as a broken or hostile server's might."""

    def format_list(self, basedir: str, listing: Any, ignore_err: bool = True) -> Any:
        number = 0
        while True:
            number += 1
            line = f"-rw-r--r--   1 owner    group    1 Jan 01  2024 endless-{number}\r\n"
            yield line.encode()

    def format_mlsx(
        self, basedir: str, listing: Any, perms: Any, facts: Any, ignore_err: bool = True
    ) -> Any:
        number = 0
        while True:
            number += 1
            yield f"type=file;size=1;modify=20240101000000; endless-{number}\r\n".encode()


def _injecting_filesystem(injected: dict[str, dict[str, list[str]]]) -> type[AbstractedFS]:
    """An AbstractedFS whose listings end with the lines of ``injected``."""

    def extra(fs: Any, basedir: str, command: str) -> Iterator[bytes]:
        relative = os.path.relpath(basedir, fs.root)
        lines = injected.get("" if relative == "." else relative, {}).get(command, [])
        for line in lines:
            yield (line + "\r\n").encode("utf-8")

    class InjectingFS(AbstractedFS):  # type: ignore[misc]
        def format_list(self, basedir: str, listing: Any, ignore_err: bool = True) -> Any:
            yield from super().format_list(basedir, listing, ignore_err)
            yield from extra(self, basedir, "LIST")

        def format_mlsx(
            self, basedir: str, listing: Any, perms: Any, facts: Any, ignore_err: bool = True
        ) -> Any:
            yield from super().format_mlsx(basedir, listing, perms, facts, ignore_err)
            yield from extra(self, basedir, "MLSD")

    return InjectingFS


def _handler_class(args: argparse.Namespace) -> type[FTPHandler]:
    base: type[FTPHandler] = FTPHandler
    if args.certfile:  # needs pyOpenSSL, which the test environment may lack
        from pyftpdlib.handlers import TLS_FTPHandler

        base = TLS_FTPHandler
    commands = dict(base.proto_cmds)
    extra_feats: list[str] = []
    removed = {
        name
        for name, flag in (
            ("EPSV", args.no_epsv),
            ("EPRT", args.no_eprt),
            ("MLST", args.no_mlst),
            ("MLSD", args.no_mlst),
            ("MFMT", args.no_mfmt),
        )
        if flag
    }
    for name in removed:
        commands.pop(name, None)
    namespace: dict[str, Any] = {"proto_cmds": commands}
    bases: tuple[type, ...] = (base,)
    if args.hash:
        for name in ("HASH", "XSHA256", "XSHA1", "XMD5"):
            commands[name] = {"perm": "r", "auth": True, "arg": True, "help": f"{name} <path>"}
        extra_feats = ["HASH SHA-256*;SHA-1;MD5", "XSHA256", "XSHA1", "XMD5"]
        bases = (HashMixin, base)

        def ftp_OPTS(self: Any, line: str) -> None:
            name, _, value = line.partition(" ")
            if name.upper() == "HASH":
                algorithm = value.strip().upper()
                if algorithm in _HASHES:
                    self.hash_algorithm = algorithm
                    self.respond(f"200 {algorithm}")
                else:
                    self.respond("501 Unknown algorithm.")
                return
            base.ftp_OPTS(self, line)

        namespace["ftp_OPTS"] = ftp_OPTS

    original_init = base.__init__

    def __init__(self: Any, *a: Any, **kw: Any) -> None:
        original_init(self, *a, **kw)
        self._extra_feats = [*self._extra_feats, *extra_feats]

    namespace["__init__"] = __init__
    if args.say_mode_b:

        def ftp_MODE(self: Any, line: str) -> None:
            if line.strip().upper() == "B":
                self.respond("200 MODE set to B.")  # and streams all the same
                return
            base.ftp_MODE(self, line)

        namespace["ftp_MODE"] = ftp_MODE
    if args.refuse_resume:
        # ProFTPD without AllowStoreRestart: APPE, and STOR after REST, refused at
        # once, the passive port opened for them closed again.
        refusal = "451 Append/Restart not permitted, try again"

        def ftp_STOR(self: Any, file: str, mode: str = "w") -> None:
            if mode == "a" or self._restart_position:
                self._restart_position = 0
                self._shutdown_connecting_dtp()
                self.respond(refusal)
                return
            base.ftp_STOR(self, file, mode)

        namespace["ftp_STOR"] = ftp_STOR
    if args.inject_listing:
        with open(args.inject_listing, encoding="utf-8") as file:
            namespace["abstracted_fs"] = _injecting_filesystem(json.load(file))
    if args.endless_listing:
        namespace["abstracted_fs"] = EndlessFS
    if args.list_follows_links:
        filesystem = namespace.get("abstracted_fs", AbstractedFS)
        namespace["abstracted_fs"] = type(
            "FollowingFS", (filesystem,), {"lstat": filesystem.stat, "readlink": None}
        )
    return type("TestHandler", bases, namespace)


def main() -> None:
    """Parse options, start the server, print READY <port>, serve forever."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--passive-ports", default=None)
    parser.add_argument("--masquerade", default=None)
    parser.add_argument("--hash", action="store_true")
    parser.add_argument("--no-epsv", action="store_true")
    parser.add_argument("--no-eprt", action="store_true")
    parser.add_argument("--no-mlst", action="store_true")
    parser.add_argument("--no-mfmt", action="store_true")
    parser.add_argument("--say-mode-b", action="store_true")
    parser.add_argument("--certfile", default=None)
    parser.add_argument("--keyfile", default=None)
    parser.add_argument("--inject-listing", default=None)
    parser.add_argument("--list-follows-links", action="store_true")
    parser.add_argument("--endless-listing", action="store_true")
    parser.add_argument("--refuse-resume", action="store_true")
    args = parser.parse_args()

    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm="elradfmwMT")
    handler = _handler_class(args)
    handler.authorizer = authorizer
    handler.banner = "pyftpdlib test server ready."
    if args.passive_ports:
        low, high = (int(part) for part in args.passive_ports.split("-"))
        handler.passive_ports = range(low, high + 1)
    if args.masquerade:
        handler.masquerade_address = args.masquerade
    if args.certfile:
        handler.certfile = args.certfile
        handler.keyfile = args.keyfile
    server = FTPServer(("127.0.0.1", 0), handler)
    print(f"READY {server.socket.getsockname()[1]}", flush=True)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
