"""FTP URLs and where a password comes from.

``ftp://user:pass@host:port/path`` (RFC 1738) names everything a client
needs.  User, password and path are percent-decoded, so ``%40`` in a user
name is an ``@`` and ``%2F`` in a path is a slash.  Schemes:

* ``ftp://`` — plain FTP, port 21 by default;
* ``ftps://`` — explicit FTPS (``AUTH TLS``, then ``PBSZ 0``/``PROT P``),
  port 21 by default; with port 990 it means implicit FTPS (TLS from the
  first byte), the port's registered use.  Note that curl and lftp read
  ``ftps://`` as implicit FTPS: to be unambiguous, pass ``implicit_tls``.

A password is looked for in this order (:func:`resolve_password`): an
explicit argument, the URL, the ``FTPFERRY_PASSWORD`` environment
variable, ``~/.netrc`` (the stdlib :mod:`netrc` format, matched on host and,
when given, user), and last an interactive prompt, only when the caller
allows one.  Anonymous login is used when there is no user at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

__all__ = [
    "ANONYMOUS_PASSWORD",
    "ANONYMOUS_USER",
    "PASSWORD_ENV",
    "FTPTarget",
    "ResolvedLogin",
    "parse_url",
    "resolve_password",
]

log = logging.getLogger("ftpferry.client")

PASSWORD_ENV: Final = "FTPFERRY_PASSWORD"  # noqa: S105 - a variable name, not a secret
ANONYMOUS_USER: Final = "anonymous"
ANONYMOUS_PASSWORD: Final = "anonymous@"  # noqa: S105 - RFC 1635 convention
DEFAULT_PORT: Final = 21
IMPLICIT_TLS_PORT: Final = 990


@dataclass(frozen=True, slots=True, kw_only=True)
class FTPTarget:
    """Where to connect and as whom: the decoded parts of an FTP URL.

    ``user`` and ``password`` are None when the URL did not name them;
    ``path`` is the decoded URL path without its leading slash ("" for none),
    which RFC 1738 reads relative to the login directory.
    """

    host: str
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = None
    path: str = ""
    tls: bool = False
    implicit_tls: bool = False

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("an FTP target needs a host")
        if not 0 < self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range")

    def url(self) -> str:
        """The URL again, without the password (for logs and messages)."""
        scheme = "ftps" if self.tls or self.implicit_tls else "ftp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        return f"{scheme}://{user}{host}:{self.port}/{self.path}"


def parse_url(url: str, *, implicit_tls: bool | None = None) -> FTPTarget:
    """Split an ``ftp://`` or ``ftps://`` URL; ValueError for anything else.

    FTP URLs have neither query nor fragment (RFC 1738): a ``?`` or ``#`` in
    the path is a character of the name, as in a pattern (``report-?.pdf``),
    not the start of something to drop.
    """
    parts = urlsplit(url, allow_fragments=False)
    scheme = parts.scheme.lower()
    if scheme not in {"ftp", "ftps"}:
        raise ValueError(f"{url!r} is not an ftp:// or ftps:// URL")
    host = parts.hostname
    if not host:
        raise ValueError(f"{url!r} names no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} has an invalid port") from exc
    tls = scheme == "ftps"
    if implicit_tls is None:
        implicit_tls = tls and port == IMPLICIT_TLS_PORT
    if port is None:
        port = IMPLICIT_TLS_PORT if implicit_tls else DEFAULT_PORT
    query = "?" + parts.query if parts.query or url.endswith("?") else ""
    path = (parts.path + query).removeprefix("/")
    # RFC 1738 ";type=a" suffix: not a part of the name.
    path, _, _ = path.partition(";type=")
    return FTPTarget(
        host=host,
        port=port,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        path=unquote(path, errors="surrogateescape"),
        tls=tls or implicit_tls,
        implicit_tls=implicit_tls,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedLogin:
    """A user and password, and where the password came from.

    ``source`` is ``argument``, ``url``, ``env``, ``netrc``, ``prompt``,
    ``anonymous`` or ``none`` (no password found; the server may not need one).
    """

    user: str
    password: str | None
    source: str


def resolve_password(
    host: str,
    user: str | None,
    *,
    argument: str | None = None,
    url_password: str | None = None,
    environ: Mapping[str, str] | None = None,
    netrc_file: str | os.PathLike[str] | None = None,
    use_netrc: bool = True,
    prompt: Callable[[str], str] | None = None,
) -> ResolvedLogin:
    """Find the password for ``user`` at ``host`` (order: see the module docstring).

    ``prompt`` is called with a message only when everything else failed;
    pass None to forbid prompting.  When ``user`` is None, a ``.netrc``
    entry for the host supplies the user too; failing that, the login is
    anonymous.
    """
    if argument is not None:
        return ResolvedLogin(user=user or ANONYMOUS_USER, password=argument, source="argument")
    if url_password is not None:
        return ResolvedLogin(user=user or ANONYMOUS_USER, password=url_password, source="url")
    env = os.environ if environ is None else environ
    if user is not None and PASSWORD_ENV in env:
        return ResolvedLogin(user=user, password=env[PASSWORD_ENV], source="env")
    if use_netrc:
        found = _from_netrc(host, user, netrc_file)
        if found is not None:
            return found
    if user is None:
        return ResolvedLogin(user=ANONYMOUS_USER, password=ANONYMOUS_PASSWORD, source="anonymous")
    if prompt is not None:
        return ResolvedLogin(
            user=user, password=prompt(f"Password for {user}@{host}: "), source="prompt"
        )
    return ResolvedLogin(user=user, password=None, source="none")


def _from_netrc(
    host: str, user: str | None, netrc_file: str | os.PathLike[str] | None
) -> ResolvedLogin | None:
    path = Path(netrc_file) if netrc_file is not None else Path.home() / ".netrc"
    if not path.is_file():
        return None
    import netrc  # noqa: PLC0415 - start-up time: most URLs carry their password

    try:
        # netrc.netrc() checks ownership and permissions only for the default
        # file, so always pass the path explicitly for predictable behaviour.
        database = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    entry = database.authenticators(host)
    if entry is None:
        return None
    login, _, password = entry
    if user is not None and login and login != user:
        return None
    return ResolvedLogin(user=user or login or ANONYMOUS_USER, password=password, source="netrc")
