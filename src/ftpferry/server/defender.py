"""The defender: slows down and then bans addresses that keep failing to log in.

A server on the internet sees password-guessing within minutes.  Each
failed login from an address makes the next ``530`` wait longer (1, 2, 4 ...
seconds up to a cap), and ``max_failures`` failures within ``window``
seconds ban the address for ``ban_time`` seconds: its connections get ``421``
before the greeting.  A success forgives the address.  Networks on the
allow-list are never delayed extra or banned (monitoring, the office).

Logins are also rate-limited per address (``logins_per_minute``), which
bounds the argon2 work one address can make the server do.

State is bounded: entries expire, and the tables are pruned when they grow,
so a scan from many addresses cannot exhaust memory.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass, field

from .addressing import IPAddress, Network, parse_network
from .config import DefenderConfig

__all__ = ["Defender"]

audit = logging.getLogger("ftpferry.audit")

MAX_TRACKED = 100_000
MAX_DELAY = 16.0


@dataclass(slots=True)
class _Record:
    failures: collections.deque[float] = field(default_factory=collections.deque)
    banned_until: float = 0.0


class Defender:
    """Tracks failed logins and bans per client address."""

    __slots__ = ("_allow", "_logins", "_policy", "_records")

    def __init__(self, policy: DefenderConfig) -> None:
        self._policy = policy
        self._allow: tuple[Network, ...] = tuple(parse_network(text) for text in policy.allow)
        self._records: dict[str, _Record] = {}
        self._logins: dict[str, collections.deque[float]] = {}

    def allowed(self, ip: IPAddress) -> bool:
        """True when ``ip`` is on the allow-list."""
        return any(ip.version == net.version and ip in net for net in self._allow)

    def ban_remaining(self, ip: IPAddress) -> float:
        """Seconds left on a ban of ``ip`` (0 when not banned)."""
        record = self._records.get(str(ip))
        if record is None or not self._policy.enabled:
            return 0.0
        return max(0.0, record.banned_until - time.monotonic())

    def login_attempt_allowed(self, ip: IPAddress) -> bool:
        """Count a login attempt; False when ``ip`` is over its per-minute rate."""
        if not self._policy.enabled or self.allowed(ip):
            return True
        now = time.monotonic()
        attempts = self._logins.setdefault(str(ip), collections.deque())
        while attempts and attempts[0] <= now - 60.0:
            attempts.popleft()
        if len(attempts) >= self._policy.logins_per_minute:
            audit.warning("login rate exceeded by %s (%d in a minute)", ip, len(attempts))
            return False
        attempts.append(now)
        self._prune(self._logins)
        return True

    def record_failure(self, ip: IPAddress, user: str) -> float:
        """Note a failed login; return how long to wait before answering 530."""
        policy = self._policy
        if not policy.enabled or self.allowed(ip):
            return policy.base_delay
        now = time.monotonic()
        record = self._records.setdefault(str(ip), _Record())
        failures = record.failures
        while failures and failures[0] <= now - policy.window:
            failures.popleft()
        failures.append(now)
        count = len(failures)
        if count >= policy.max_failures:
            record.banned_until = now + policy.ban_time
            failures.clear()
            audit.warning(
                "banned %s for %gs after %d failed logins (last user %r)",
                ip,
                policy.ban_time,
                count,
                user[:64],
            )
        self._prune(self._records)
        return min(policy.base_delay * 2 ** (count - 1), MAX_DELAY) if count else policy.base_delay

    def record_success(self, ip: IPAddress) -> None:
        """A good login forgives the address's earlier failures."""
        self._records.pop(str(ip), None)

    @staticmethod
    def _prune(table: dict[str, _Record] | dict[str, collections.deque[float]]) -> None:
        if len(table) <= MAX_TRACKED:
            return
        for key in list(table)[: len(table) // 2]:  # oldest insertions first
            del table[key]
