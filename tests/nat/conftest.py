"""The NAT/firewall lab: real network namespaces, veth pairs and nftables.

Why a lab and not mocks: whether an FTP data channel survives NAT is decided
by the kernel (conntrack, masquerade, DNAT, stateful filters, the FTP
helper) and by the clients (which address they trust), not by the server
alone.  So each test builds a small private internet out of network
namespaces, starts the real ``ftpferry serve`` in one of them and drives it
with real clients (curl, lftp, ftplib) from others.

Topology (every address exists only inside namespaces this run creates)::

    client 10.91.1.2 ── crouter 10.91.1.1 | 198.18.0.2 ──┐
                        (client's NAT router)             │  "wan" namespace:
    wanclient 198.18.0.3 ─────────────────────────────────┤  bridge br0 = the
                                                          │  fake internet
    srouter 198.18.0.1 (server's PUBLIC address) ─────────┘  198.18.0.0/24
       │ 10.91.2.1
    "slan" namespace: bridge br0 = server LAN 10.91.2.0/24
       ├── server    10.91.2.2  (ftpferry on port 2121)
       └── lanclient 10.91.2.3

Switches are namespaces holding only a bridge and no rules, so filtering
happens only where a test puts it (crouter, srouter).  Veth pairs are created
directly inside the namespaces (``ip -n A link add ... peer ... netns B``),
so the root namespace never sees an interface, a route or a rule of the lab.
Namespace names carry ``ffl<pid>`` so parallel runs cannot collide; they
are deleted by fixture finalizers, again at exit, and stale ones of dead
runs are swept at start.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BANNER_URL, PASSWORD, USER, ServerProcess, ftpferry_command

PREFIX = f"ffl{os.getpid()}"
"""Namespace name prefix, unique per test run (the pytest process id)."""

CONTROL_PORT = 2121
PASSIVE_LOW, PASSIVE_HIGH = 30000, 30009
DATA_TIMEOUT = 3.0
"""Server --data-timeout: below ftplib's 5 s socket timeout, so a client waiting
for the 425 after a failed active connection sees the reply, not its own timeout."""

PUBLIC = "198.18.0.1"  # srouter's WAN address: the server's public address
CROUTER_WAN = "198.18.0.2"
WANCLIENT = "198.18.0.3"
CLIENT = "10.91.1.2"
CROUTER_LAN = "10.91.1.1"
SERVER = "10.91.2.2"
SROUTER_LAN = "10.91.2.1"
LANCLIENT = "10.91.2.3"
SERVER_LAN = "10.91.2.0/24"

PAYLOAD_NAME = "big.bin"
PAYLOAD_SIZE = 3 * 1024 * 1024 + 12_345  # multi-megabyte, not a round number

FTPCLIENT = Path(__file__).with_name("ftpclient.py")
RESULTS_FILE = Path(__file__).with_name("last-run.md")
COMMAND_TIMEOUT = 30.0
"""Hard wall-clock bound for any one client process, on top of its own time-outs."""

ROLES = ("wan", "slan", "crouter", "client", "srouter", "server", "lanclient", "wanclient")

_live_namespaces: set[str] = set()
_live_servers: list[ServerProcess] = []
_lab_counter = itertools.count(1)


# -- running commands -----------------------------------------------------------------


def sh(
    argv: Sequence[str], *, input: str | None = None, timeout: float = 20.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output; raise with its stderr when ``check``."""
    result = subprocess.run(
        list(argv),
        input=input,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
        stdin=None if input is not None else subprocess.DEVNULL,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}"
            f" {result.stdout.strip()}"
        )
    return result


@dataclass
class ClientRun:
    """What one client process did: for assertions and for failure messages."""

    namespace: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self, server: ServerProcess | None = None, lines: int = 50) -> str:
        """Client output plus the server's log tail: diagnose without re-running."""
        text = (
            f"in {self.namespace}: {self.argv!r}\nexit {self.returncode} after {self.seconds:.1f}s"
            f"\n--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-5000:]}"
        )
        if server is not None:
            tail = "\n".join(server.log().splitlines()[-lines:])
            text += f"\n--- server log (tail) ---\n{tail}"
        return text


class Netns:
    """One network namespace of the lab."""

    def __init__(self, name: str, role: str) -> None:
        self.name = name
        self.role = role

    def ip(self, *args: str) -> None:
        """``ip -n NS ...``: configure this namespace without entering it."""
        sh(["ip", "-n", self.name, *args])

    def sysctl(self, setting: str) -> None:
        """A sysctl inside the namespace (net.* sysctls are per namespace)."""
        sh(["ip", "netns", "exec", self.name, "sysctl", "-qw", setting])

    def nft(self, ruleset: str) -> None:
        """Replace this namespace's whole nftables ruleset (never the host's)."""
        sh(["ip", "netns", "exec", self.name, "nft", "-f", "-"], input="flush ruleset\n" + ruleset)

    def nft_counter(self, table: str, name: str) -> int:
        """Packets counted by a named nft counter."""
        out = sh(["ip", "netns", "exec", self.name, "nft", "list", "counter", "inet", table, name])
        match = re.search(r"packets (\d+)", out.stdout)
        assert match, out.stdout
        return int(match.group(1))

    def run(self, argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT) -> ClientRun:
        """Run a client inside the namespace, bounded by ``timeout`` seconds."""
        full = ["ip", "netns", "exec", self.name, *argv]
        started = time.monotonic()
        try:
            result = sh(full, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
            return ClientRun(self.name, list(argv), -9, out, err + "\n[HUNG: killed]", timeout)
        return ClientRun(
            self.name,
            list(argv),
            result.returncode,
            result.stdout,
            result.stderr,
            time.monotonic() - started,
        )


def _delete_namespace(name: str) -> None:
    """Delete a namespace; its veth ends (and so their peers) go with it.

    Processes still inside it (a server of a run that was killed, a hung
    client) are ended first by their ids, as listed by ``ip netns pids``,
    or they would linger in a namespace that no longer has a name.
    """
    with contextlib.suppress(Exception):
        pids = sh(["ip", "netns", "pids", name], check=False, timeout=10).stdout.split()
        for pid in pids:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
    with contextlib.suppress(Exception):
        sh(["ip", "netns", "del", name], check=False, timeout=10)
    _live_namespaces.discard(name)


def _cleanup_everything() -> None:
    """atexit: stop servers and delete namespaces a failing run may have left."""
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.stop()
    _live_servers.clear()
    for name in list(_live_namespaces):
        _delete_namespace(name)


atexit.register(_cleanup_everything)


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM skips atexit: clean up first, then die of the signal as usual."""
    _cleanup_everything()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _sweep_stale_namespaces() -> None:
    """Delete ``ffl<pid>-*`` namespaces whose run (process) no longer exists."""
    listing = sh(["ip", "netns", "list"], check=False).stdout
    for line in listing.splitlines():
        match = re.match(r"(ffl(\d+)-\S+)", line)
        if not match or int(match.group(2)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(2)), 0)
        except ProcessLookupError:
            _delete_namespace(match.group(1))
        except PermissionError:
            continue


# -- the topology -------------------------------------------------------------------------


class Lab:
    """A freshly built topology plus the helpers to run servers and clients in it."""

    def __init__(self, tmp_path: Path, payload: Path) -> None:
        self.tmp_path = tmp_path
        self.payload = payload
        self.tag = f"{PREFIX}-{next(_lab_counter)}"
        self.ns: dict[str, Netns] = {}
        self.servers: list[ServerProcess] = []

    def __getitem__(self, role: str) -> Netns:
        return self.ns[role]

    # building

    def build(self) -> None:
        """Create the namespaces, switches, veths, addresses and routes."""
        for role in ROLES:
            name = f"{self.tag}-{role}"
            sh(["ip", "netns", "add", name])
            _live_namespaces.add(name)
            ns = Netns(name, role)
            self.ns[role] = ns
            ns.ip("link", "set", "lo", "up")
            # IPv4 only: no IPv6 autoconfiguration chatter in counters and captures.
            ns.sysctl("net.ipv6.conf.all.disable_ipv6=1")
            ns.sysctl("net.ipv6.conf.default.disable_ipv6=1")
        for switch in ("wan", "slan"):
            self[switch].ip("link", "add", "br0", "type", "bridge")
            self[switch].ip("link", "set", "br0", "up")
        self._plug("wan", "crouter", "wan0", f"{CROUTER_WAN}/24")
        self._plug("wan", "srouter", "wan0", f"{PUBLIC}/24")
        self._plug("wan", "wanclient", "eth0", f"{WANCLIENT}/24")
        self._plug("slan", "srouter", "lan0", f"{SROUTER_LAN}/24")
        self._plug("slan", "server", "eth0", f"{SERVER}/24")
        self._plug("slan", "lanclient", "eth0", f"{LANCLIENT}/24")
        crouter, client = self["crouter"], self["client"]
        crouter.ip(
            "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", client.name
        )
        crouter.ip("addr", "add", f"{CROUTER_LAN}/24", "dev", "lan0")
        crouter.ip("link", "set", "lan0", "up")
        client.ip("addr", "add", f"{CLIENT}/24", "dev", "eth0")
        client.ip("link", "set", "eth0", "up")
        client.ip("route", "add", "default", "via", CROUTER_LAN)
        # The server LAN is routable from the WAN side ("direct route", scenarios
        # 1, 2, 8); a port-forwarding srouter drops that in its forward chain.
        crouter.ip("route", "add", SERVER_LAN, "via", PUBLIC)
        self["wanclient"].ip("route", "add", SERVER_LAN, "via", PUBLIC)
        self["server"].ip("route", "add", "default", "via", SROUTER_LAN)
        self["lanclient"].ip("route", "add", "default", "via", SROUTER_LAN)
        for router in ("crouter", "srouter"):
            self[router].sysctl("net.ipv4.ip_forward=1")

    def _plug(self, switch: str, role: str, ifname: str, address: str) -> None:
        """Connect ``role`` to a switch namespace's bridge with a veth pair."""
        port = f"p-{role}"[:15]
        sw, ns = self[switch], self[role]
        sw.ip("link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns.name)
        sw.ip("link", "set", port, "master", "br0")
        sw.ip("link", "set", port, "up")
        ns.ip("addr", "add", address, "dev", ifname)
        ns.ip("link", "set", ifname, "up")

    def destroy(self) -> None:
        """Stop this lab's servers, then delete its namespaces (and with them the veths)."""
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
            if server in _live_servers:
                _live_servers.remove(server)
        for ns in self.ns.values():
            _delete_namespace(ns.name)

    # the server

    def start_server(self, *extra: str, passive: tuple[int, int] | None = None) -> ServerProcess:
        """Run ``ftpferry serve -v`` in the server namespace on port 2121; wait for its banner."""
        low, high = passive or (PASSIVE_LOW, PASSIVE_HIGH)
        root = self.tmp_path / "root"
        root.mkdir(exist_ok=True)
        target = root / PAYLOAD_NAME
        if not target.exists():
            shutil.copyfile(self.payload, target)
        log_path = self.tmp_path / f"server-{len(self.servers)}.log"
        args = [
            *ftpferry_command(),
            "serve",
            "-v",
            "--host",
            "0.0.0.0",
            "--port",
            str(CONTROL_PORT),
            "--root",
            str(root),
            "--user",
            f"{USER}:{PASSWORD}",
            "--passive-ports",
            f"{low}-{high}",
            "--data-timeout",
            str(DATA_TIMEOUT),
            *extra,
        ]
        log_file = log_path.open("w")
        process = subprocess.Popen(
            ["ip", "netns", "exec", self["server"].name, *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        log_file.close()
        server = ServerProcess(process, SERVER, 0, root, log_path, USER, PASSWORD, args)
        self.servers.append(server)
        _live_servers.append(server)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            match = BANNER_URL.search(server.log())
            if match:
                server.port = int(match.group("port"))
                assert server.port == CONTROL_PORT, server.log()
                return server
            if process.poll() is not None:
                raise RuntimeError(f"ftpferry serve exited {process.returncode}:\n{server.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"ftpferry serve printed no banner within 15 s:\n{server.log()}")

    # clients

    def ftplib(
        self,
        role: str,
        host: str,
        steps: list[dict[str, Any]],
        *,
        op: str = "session",
        **extra: Any,
    ) -> tuple[dict[str, Any], ClientRun]:
        """Run tests/nat/ftpclient.py in ``role``'s namespace; return its JSON report."""
        job = {
            "op": op,
            "host": host,
            "port": CONTROL_PORT,
            "user": USER,
            "password": PASSWORD,
            "timeout": 5,
            "steps": steps,
            **extra,
        }
        run = self[role].run([sys.executable, str(FTPCLIENT), json.dumps(job)])
        try:
            report = json.loads(run.stdout)
        except json.JSONDecodeError:
            report = {"crashed": True, "steps": []}
        return report, run

    def curl(self, role: str, host: str, *flags: str, out: Path | None = None) -> ClientRun:
        """curl -v downloading the payload from ``host`` (bounded time-outs)."""
        argv = [
            "curl",
            "--silent",
            "--show-error",
            "--verbose",
            "--connect-timeout",
            "5",
            "-m",
            "20",
            "--user",
            f"{USER}:{PASSWORD}",
            "-o",
            str(out or self.tmp_path / f"curl-{role}.bin"),
            *flags,
            f"ftp://{host}:{CONTROL_PORT}/{PAYLOAD_NAME}",
        ]
        return self[role].run(argv)

    def lftp(self, role: str, host: str, settings: Sequence[str], out: Path) -> ClientRun:
        """lftp -d getting the payload from ``host`` (bounded time-outs, one retry)."""
        script = "; ".join(
            [
                "set net:timeout 5",
                "set net:max-retries 1",
                "set net:reconnect-interval-base 1",
                "set cmd:fail-exit yes",
                "set xfer:clobber on",
                "set ftp:ssl-allow no",
                *settings,
                f"open -u '{USER},{PASSWORD}' -p {CONTROL_PORT} {host}",
                f"get {PAYLOAD_NAME} -o {out}",
            ]
        )
        return self[role].run(["lftp", "-d", "-c", script])

    def sha256(self, path: Path) -> str | None:
        """Hash of a downloaded file, None when the client wrote nothing."""
        if not path.exists():
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()


# -- nftables rulesets ----------------------------------------------------------------------


def client_nat_firewall(*, helper: bool = False) -> str:
    """crouter: masquerade outbound, stateful filter, optionally the FTP conntrack helper.

    Forward: established/related accepted, new connections only from the LAN,
    everything else dropped (silently, as home routers do).  Input is locked
    the same way, so a connection to the router's public address (an active
    data connection to the address of a PORT) is dropped too.  The helper is
    attached explicitly to the control port 2121: the kernel no longer assigns
    helpers by port on its own, and it parses only connections it is attached to.
    """
    helper_objects = (
        """
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain helpers {
    type filter hook prerouting priority filter; policy accept;
    iifname "lan0" tcp dport 2121 ct helper set "ftp-std"
  }"""
        if helper
        else ""
    )
    return f"""
table inet lab {{{helper_objects}
  counter dropped {{ }}
  chain input {{
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    iifname "lan0" accept
    counter name "dropped" drop
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct state new iifname "lan0" oifname "wan0" accept
    counter name "dropped" drop
  }}
  chain dstnat {{
    type nat hook prerouting priority dstnat; policy accept;
  }}
  chain srcnat {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" masquerade
  }}
}}
"""


def server_port_forward(low: int = PASSIVE_LOW, high: int = PASSIVE_HIGH) -> str:
    """srouter: DNAT the control port and the passive range to the server, drop the rest.

    No SNAT: the server sees each client's real (public) address, which the
    anti-port-theft check compares with the data connection's source.
    Traffic from the WAN to the private LAN that was not port-forwarded is
    dropped (``dropped_forward``), as the internet would never route it;
    anything else aimed at the public address is dropped too (``dropped_input``).
    """
    return f"""
table inet lab {{
  counter dropped_input {{ }}
  counter dropped_forward {{ }}
  chain dstnat {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan0" ip daddr {PUBLIC} tcp dport {{ {CONTROL_PORT}, {low}-{high} }} \\
      dnat ip to {SERVER}
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    ct state established,related accept
    iifname "wan0" counter name "dropped_input" drop
  }}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct status dnat accept
    iifname "lan0" accept
    counter name "dropped_forward" drop
  }}
}}
"""


# -- fixtures ---------------------------------------------------------------------------------


_availability: str | None = None


def _lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here (None when it can), found by trying."""
    if os.geteuid() != 0:
        return "NAT lab needs root (network namespaces, veth pairs and nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"NAT lab needs `{tool}` (apt-get install iproute2 nftables)"
    probe = f"{PREFIX}-probe"
    try:
        sh(["ip", "netns", "add", probe])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns add` failed here: {exc}"
    _live_namespaces.add(probe)
    try:
        Netns(probe, "probe").nft(
            "table inet t {\n  chain c {\n    type nat hook postrouting priority srcnat;\n"
            "    masquerade\n  }\n}\n"
        )
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return f"nftables (with NAT) does not work in a network namespace here: {exc}"
    finally:
        _delete_namespace(probe)
    return None


@pytest.fixture(scope="session")
def lab_available() -> None:
    """Skip the whole package, with the reason, when the lab cannot be built."""
    global _availability
    if _availability is None:
        _availability = _lab_unavailable_reason() or ""
        if not _availability:
            _sweep_stale_namespaces()
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
    if _availability:
        pytest.skip(_availability)
    SUMMARY.started = SUMMARY.started or time.monotonic()


@pytest.fixture(scope="session")
def payload(lab_available: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The multi-megabyte file every server serves, deterministic per run."""
    path = tmp_path_factory.mktemp("payload") / PAYLOAD_NAME
    path.write_bytes(os.urandom(PAYLOAD_SIZE))
    return path


@pytest.fixture
def payload_sha(payload: Path) -> str:
    """sha256 of the payload, to compare every transfer with."""
    return hashlib.sha256(payload.read_bytes()).hexdigest()


@pytest.fixture
def lab(lab_available: None, payload: Path, tmp_path: Path) -> Iterator[Lab]:
    """A fresh topology per test (no conntrack state or rules leak between tests)."""
    built = Lab(tmp_path, payload)
    try:
        built.build()
        yield built
    finally:
        built.destroy()


# -- the results table ------------------------------------------------------------------------


@dataclass
class Row:
    """One scenario/client/mode observation."""

    scenario: str
    client: str
    mode: str
    expected: str
    observed: str
    seconds: float
    detail: str
    nodeid: str


@dataclass
class Summary:
    """Rows recorded by the tests and the outcome of each test, for the report."""

    rows: list[Row] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    started: float = 0.0


SUMMARY = Summary()

Recorder = Callable[..., None]


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Recorder:
    """record(scenario, client, mode, expected, observed, seconds=0, detail='') adds a row."""

    def add(
        scenario: str,
        client: str,
        mode: str,
        expected: str,
        observed: str,
        seconds: float = 0.0,
        detail: str = "",
    ) -> None:
        detail = " ".join(detail.split())[:140]
        SUMMARY.rows.append(
            Row(scenario, client, mode, expected, observed, seconds, detail, request.node.nodeid)
        )

    return add


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember each lab test's outcome (a failing setup or call wins over passing)."""
    if "tests/nat/" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" or report.outcome != "passed":
        previous = SUMMARY.outcomes.get(report.nodeid)
        if previous in (None, "passed"):
            SUMMARY.outcomes[report.nodeid] = report.outcome


def render_table() -> str:
    """The results as a Markdown document."""
    runtime = time.monotonic() - SUMMARY.started if SUMMARY.started else 0.0
    counts: dict[str, int] = {}
    for outcome in SUMMARY.outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    lines = [
        "# NAT/firewall lab: last run",
        "",
        "Generated by `tests/nat` (do not edit by hand).",
        "",
        f"- kernel: {os.uname().release}; lab runtime {runtime:.1f} s",
        "- tests: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
        "",
        "| scenario | client | mode | expected | observed | time (s) | test | detail |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in SUMMARY.rows:
        test = SUMMARY.outcomes.get(row.nodeid, "?")
        cells = [
            row.scenario,
            row.client,
            row.mode,
            row.expected,
            row.observed,
            f"{row.seconds:.2f}",
            test,
            row.detail.replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the scenario table and write it to tests/nat/last-run.md."""
    if not SUMMARY.rows:
        return
    text = render_table()
    with contextlib.suppress(OSError):
        RESULTS_FILE.write_text(text)
    terminalreporter.section("NAT lab results")
    for line in text.splitlines():
        terminalreporter.write_line(line)
