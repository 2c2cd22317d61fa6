"""The defender against a real server: growing delays, bans, the allow-list, login rate.

Each test starts its own server with a small, fast policy in a TOML
``[defender]`` table, so bans and counters never leak between tests.
Timing is asserted only loosely (the machine is shared): a ban must end
"within a few seconds of" ``ban_time``, two delays must agree "within a
factor of three".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER, RawClient, ServerProcess, start_server
from tests.security.support import (
    AUDIT_BANNED,
    can_log_in,
    greeting_of,
    log_tail,
    read_until_closed,
    user_table,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration

FAST_POLICY = """
[defender]
max_failures = 3
window = 60
ban_time = 5
base_delay = 0.1
"""

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def defended(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start a server with a TOML config (extra text appended); stopped after the test."""
    started: list[ServerProcess] = []

    def start(extra: str = "", *, policy: str = FAST_POLICY, users: str = "") -> ServerProcess:
        config = write_config(tmp_path, policy + extra + "\n" + users)
        proc = start_server(tmp_path, "--config", str(config), "-v", user=None if users else USER)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def fail_login(client: RawClient, user: str = USER, password: str = "wrong") -> tuple[int, str]:
    """USER then a wrong PASS; the reply to PASS."""
    assert client.command(f"USER {user}")[0] == 331
    return client.command(f"PASS {password}")


def test_ban_after_max_failures(defended: ServerFactory) -> None:
    server = defended()
    with RawClient(server.host, server.port) as client:
        for _ in range(2):
            code, text = fail_login(client)
            assert (code, text) == (530, "Login incorrect."), log_tail(server)
        code, text = fail_login(client)
        assert code == 530, text
        code, text = client.read_reply()
        assert code == 421, text
        assert read_until_closed(client.sock, timeout=10) == b""
    # A new connection is refused before any greeting.
    with RawClient(server.host, server.port) as client:
        code, text = client.greeting
        assert code == 421, text
        assert "try again" in text.lower(), text
        assert read_until_closed(client.sock, timeout=10) == b""
    # The audit log names the address.
    banned = [m.group(1) for m in AUDIT_BANNED.finditer(server.log())]
    assert banned == ["127.0.0.1"], log_tail(server)
    # The ban lasts ban_time (5 s), then the address may log in again.
    started = time.monotonic()
    assert wait_for(lambda: greeting_of(server)[0] == 220, timeout=20, interval=0.5), log_tail(
        server
    )
    assert time.monotonic() - started < 20
    assert can_log_in(server)


def test_ban_time_is_not_shortened_by_retrying(defended: ServerFactory) -> None:
    """Connecting during the ban (and being refused) must not lift it early."""
    server = defended()
    with RawClient(server.host, server.port) as client:
        for _ in range(3):
            fail_login(client)
    banned_at = time.monotonic()
    while time.monotonic() - banned_at < 3.0:  # well inside the 5 s ban
        assert greeting_of(server)[0] == 421
        time.sleep(0.3)
    assert wait_for(lambda: greeting_of(server)[0] == 220, timeout=20, interval=0.5)
    assert time.monotonic() - banned_at >= 4.0


def timed_failure(server: ServerProcess, user: str, password: str) -> tuple[bytes, float]:
    """The raw reply line to a failed PASS and the seconds it took."""
    with RawClient(server.host, server.port) as client:
        assert client.command(f"USER {user}")[0] == 331
        client.send_raw(f"PASS {password}\r\n".encode())
        started = time.monotonic()
        line = client.read_line()
        elapsed = time.monotonic() - started
    return line, elapsed


def login_ok(server: ServerProcess, user: str, password: str) -> None:
    with RawClient(server.host, server.port) as client:
        client.login(user, password)


def test_unknown_user_and_wrong_password_look_the_same(defended: ServerFactory) -> None:
    """Same bytes, same delay: an attacker cannot tell which user names exist.

    A successful login resets the failure count between measurements, so
    every failure is the first one and gets the base delay.
    """
    policy = FAST_POLICY.replace("base_delay = 0.1", "base_delay = 0.3")
    server = defended(policy=policy, users=user_table("real", "real-pass"))
    unknown: list[float] = []
    wrong: list[float] = []
    replies: set[bytes] = set()
    for round_number in range(3):
        order = [("ghost", unknown), ("real", wrong)]
        if round_number % 2:
            order.reverse()
        for name, bucket in order:
            line, elapsed = timed_failure(server, name, "not-the-password")
            replies.add(line)
            bucket.append(elapsed)
            login_ok(server, "real", "real-pass")  # forgive, so the next failure is a first
    assert replies == {b"530 Login incorrect."}, replies
    slow, fast = statistics.median(unknown), statistics.median(wrong)
    assert min(slow, fast) >= 0.25, (unknown, wrong)  # the base delay is applied to both
    assert max(slow, fast) <= 3 * min(slow, fast), (unknown, wrong)


def test_delay_grows_with_failures(defended: ServerFactory) -> None:
    policy = FAST_POLICY.replace("max_failures = 3", "max_failures = 10").replace(
        "base_delay = 0.1", "base_delay = 0.2"
    )
    server = defended(policy=policy)
    delays: list[float] = []
    with RawClient(server.host, server.port) as client:
        for _ in range(4):
            assert client.command(f"USER {USER}")[0] == 331
            client.send_raw(b"PASS wrong\r\n")
            started = time.monotonic()
            assert client.read_line() == b"530 Login incorrect."
            delays.append(time.monotonic() - started)
    # 0.2, 0.4, 0.8, 1.6 s: the fourth clearly slower than the first.
    assert delays[0] >= 0.15, delays
    assert delays[3] >= 1.2, delays
    assert delays[3] > 2 * delays[0], delays


def test_allow_listed_network_is_never_banned(defended: ServerFactory) -> None:
    server = defended('allow = ["127.0.0.0/8"]\n')
    with RawClient(server.host, server.port) as client:
        for _ in range(6):
            code, text = fail_login(client)
            assert code == 530, text
        # Still connected: no 421 and the session answers.
        assert client.command("NOOP")[0] == 200
    assert greeting_of(server)[0] == 220
    assert can_log_in(server)
    assert not AUDIT_BANNED.search(server.log()), log_tail(server)


def test_allow_list_of_another_network_does_not_protect_us(defended: ServerFactory) -> None:
    server = defended('allow = ["10.0.0.0/8", "::1/128"]\n')
    with RawClient(server.host, server.port) as client:
        for _ in range(3):
            fail_login(client)
    assert greeting_of(server)[0] == 421


def test_successful_login_resets_the_count(defended: ServerFactory) -> None:
    server = defended()
    with RawClient(server.host, server.port) as client:
        for _ in range(2):
            assert fail_login(client)[0] == 530
        client.login()
    with RawClient(server.host, server.port) as client:
        assert client.greeting[0] == 220
        for _ in range(2):
            assert fail_login(client)[0] == 530
        # Four failures in all, never three in a row: not banned.
        assert client.command("NOOP")[0] == 200
    assert greeting_of(server)[0] == 220
    # The third consecutive failure bans.
    with RawClient(server.host, server.port) as client:
        assert fail_login(client)[0] == 530
        assert client.read_reply()[0] == 421
    assert greeting_of(server)[0] == 421


def test_failures_across_connections_are_counted(defended: ServerFactory) -> None:
    """Reconnecting after every failure does not escape the count."""
    server = defended()
    for _ in range(2):
        with RawClient(server.host, server.port) as client:
            assert fail_login(client)[0] == 530
    with RawClient(server.host, server.port) as client:
        assert fail_login(client)[0] == 530
        assert client.read_reply()[0] == 421
    assert greeting_of(server)[0] == 421


def test_logins_per_minute(defended: ServerFactory) -> None:
    server = defended("logins_per_minute = 5\n")
    for _ in range(5):
        with RawClient(server.host, server.port) as client:
            client.login()
    with RawClient(server.host, server.port) as client:
        assert client.greeting[0] == 220
        assert client.command(f"USER {USER}")[0] == 331
        code, text = client.command(f"PASS {PASSWORD}")
        assert code == 421, text
        assert read_until_closed(client.sock, timeout=10) == b""
    assert "login rate exceeded by 127.0.0.1" in server.log()
    assert server.alive()


def test_logins_per_minute_ignores_allow_listed(defended: ServerFactory) -> None:
    server = defended('logins_per_minute = 2\nallow = ["127.0.0.1/32"]\n')
    for _ in range(5):
        with RawClient(server.host, server.port) as client:
            client.login()


def test_disabled_defender_never_bans(defended: ServerFactory) -> None:
    server = defended(policy=FAST_POLICY.replace("[defender]", "[defender]\nenabled = false"))
    with RawClient(server.host, server.port) as client:
        for _ in range(5):
            assert fail_login(client)[0] == 530
        assert client.command("NOOP")[0] == 200
    assert greeting_of(server)[0] == 220
