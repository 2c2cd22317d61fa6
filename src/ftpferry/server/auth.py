"""Authentication: accounts, password checks and each account's home.

Passwords from the config file are argon2 hashes, checked in a worker
thread because one check takes tens of milliseconds by design and must not
stall every other session.  Passwords given on the command line for quick
starts are compared in constant time.  An unknown user costs the same work
as a wrong password (a dummy hash is checked), so timing does not reveal
which names exist.  No password, right or wrong, is ever logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .config import ServerConfig, UserConfig

__all__ = ["Account", "Authenticator", "hash_password"]

ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash for the config file (``ftpferry hash-password``)."""
    return _hasher.hash(password)


@dataclass(frozen=True, slots=True)
class Account:
    """A logged-in identity: its name, home directory and write permission."""

    name: str
    home: Path
    read_only: bool
    tls_required: bool = False


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class Authenticator:
    """Checks user names and passwords against the configured accounts."""

    __slots__ = ("_anonymous", "_dummy_hash", "_root", "_users")

    def __init__(self, config: ServerConfig) -> None:
        self._root = config.root.resolve()
        self._users: dict[str, UserConfig] = {user.name: user for user in config.users}
        self._anonymous = config.anonymous
        self._dummy_hash: str | None = None
        if any(user.password_hash for user in config.users):
            self._dummy_hash = _hasher.hash("ftpferry-dummy-password")

    def is_anonymous(self, name: str) -> bool:
        """True when ``name`` logs in anonymously (and no real account has it)."""
        return self._anonymous and name.lower() in ANONYMOUS_NAMES and name not in self._users

    def home_of(self, user: UserConfig) -> Path:
        """The user's home: ``home`` from the config, relative to the root, or the root."""
        if user.home is None:
            return self._root
        home = Path(user.home)
        return home if home.is_absolute() else self._root / home

    async def authenticate(self, name: str, password: str) -> Account | None:
        """Return the account for a correct name and password, else None."""
        if self.is_anonymous(name):
            return Account(name="anonymous", home=self._root, read_only=True)
        user = self._users.get(name)
        if user is None:
            if self._dummy_hash is not None:
                await asyncio.to_thread(self._verify_hash, self._dummy_hash, password)
            else:
                hmac.compare_digest(_digest(password), _digest("not-a-password"))
            return None
        if user.password_hash is not None:
            ok = await asyncio.to_thread(self._verify_hash, user.password_hash, password)
        else:
            ok = hmac.compare_digest(_digest(password), _digest(user.password or ""))
        if not ok:
            return None
        return Account(
            name=user.name,
            home=self.home_of(user),
            read_only=user.read_only,
            tls_required=user.tls_required,
        )

    @staticmethod
    def _verify_hash(password_hash: str, password: str) -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
