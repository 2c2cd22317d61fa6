"""Opening a session: connect, greeting, TLS, login, features.

The order is fixed by the RFCs and by what real servers accept:

1. connect (TLS from the first byte for implicit FTPS) and read ``220``,
   waiting through ``120`` "ready in n minutes";
2. explicit FTPS: ``AUTH TLS`` -> ``234``, then the TLS handshake;
3. ``USER`` -> ``230`` (done) or ``331`` -> ``PASS`` -> ``230``; the password
   is looked up only once the server asks for one, so a prompt never
   appears for a server that does not need it;
4. FTPS: ``PBSZ 0`` and ``PROT P`` (RFC 4217), so data connections are
   encrypted too;
5. ``FEAT`` (a server without it has no features), ``OPTS UTF8 ON`` when
   offered, and ``TYPE I``.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from .config import ClientConfig
from .control import ControlConnection
from .errors import FTPTimeout, LoginError, NoGreeting, ReplyError, TLSError
from .replies import Features, Reply
from .urls import FTPTarget, ResolvedLogin, resolve_password

__all__ = ["Session", "open_session"]

log = logging.getLogger("ftpferry.client")


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A logged-in control connection and what was learnt while opening it.

    Attributes:
        control: the connection.
        welcome: the server's ``220`` greeting.
        login_reply: the reply that completed the login (``230``).
        user: the user logged in as.
        password_source: where the password came from (see
            :class:`~ftpferry.client.urls.ResolvedLogin`).
        features: the parsed FEAT reply.
        tls: True when the control connection is encrypted and PROT P is on.
        ssl_context: the context of the control connection, which data
            connections must share to resume its TLS session (None without TLS).
    """

    control: ControlConnection
    welcome: Reply
    login_reply: Reply
    user: str
    password_source: str
    features: Features
    tls: bool
    ssl_context: ssl.SSLContext | None = None


async def open_session(
    target: FTPTarget, config: ClientConfig, *, password: str | None = None
) -> Session:
    """Connect and log in; the connection is closed again if any step fails.

    ``password``, when given, wins over the URL's and every other source.
    """
    context = config.tls_context() if target.tls or target.implicit_tls else None
    control = await ControlConnection.open(
        target.host,
        target.port,
        connect_timeout=config.connect_timeout,
        timeout=config.timeout,
        encoding=config.encoding,
        ssl_context=context if target.implicit_tls else None,
    )
    try:
        return await _handshake(control, target, config, password, context)
    except BaseException:
        await control.close()
        raise


async def _handshake(
    control: ControlConnection,
    target: FTPTarget,
    config: ClientConfig,
    password: str | None,
    context: ssl.SSLContext | None,
) -> Session:
    limit = config.connect_timeout + config.timeout
    try:
        welcome = await control.read_reply(timeout=limit)
    except FTPTimeout as exc:
        raise NoGreeting(limit, implicit_tls=target.implicit_tls) from exc
    while welcome.code == 120:
        welcome = await control.read_reply()
    if welcome.code != 220:
        raise ReplyError.from_reply(welcome, expected=(220,), command="(greeting)")
    if target.tls and not target.implicit_tls:
        reply = await control.command("AUTH TLS")
        if reply.code != 234:
            raise TLSError(f"the server refused AUTH TLS: {reply.code} {reply.text}")
        assert context is not None
        await control.start_tls(context, target.host)
    login = resolve_password(
        target.host,
        target.user,
        argument=password,
        url_password=target.password,
        netrc_file=config.netrc_file,
        use_netrc=config.use_netrc,
    )
    login_reply, login = await _login(control, target, config, login)
    protected = False
    if target.tls or target.implicit_tls:
        for line in ("PBSZ 0", "PROT P"):
            reply = await control.command(line)
            if reply.code != 200:
                raise TLSError(f"the server refused {line}: {reply.code} {reply.text}")
        protected = True
    reply = await control.command("FEAT")
    features = Features.from_reply(reply)
    if "UTF8" in features:
        await control.command("OPTS UTF8 ON")  # the answer changes nothing we do
    reply = await control.command("TYPE I")
    if reply.code != 200:
        raise ReplyError.from_reply(reply, expected=(200,), command="TYPE I")
    return Session(
        control=control,
        welcome=welcome,
        login_reply=login_reply,
        user=login.user,
        password_source=login.source,
        features=features,
        tls=protected,
        ssl_context=context,
    )


async def _login(
    control: ControlConnection, target: FTPTarget, config: ClientConfig, login: ResolvedLogin
) -> tuple[Reply, ResolvedLogin]:
    reply = await control.command(f"USER {login.user}")
    if reply.code in {230, 232}:
        return reply, login
    if reply.code != 331:
        raise LoginError(reply, expected=(230, 331), command=f"USER {login.user}")
    if login.password is None:
        if not config.ask_password:
            raise LoginError(
                reply,
                expected=(230,),
                command=f"USER {login.user} (no password in the URL, FTPFERRY_PASSWORD "
                "or ~/.netrc, and prompting is off)",
            )
        import getpass  # noqa: PLC0415 - start-up time: prompting is rare

        prompt = config.password_prompt or getpass.getpass
        login = ResolvedLogin(
            user=login.user,
            password=prompt(f"Password for {login.user}@{target.host}: "),
            source="prompt",
        )
    assert login.password is not None
    reply = await control.command(f"PASS {login.password}")
    if reply.code in {230, 202}:
        log.info("logged in to %s as %s", target.host, login.user)
        return reply, login
    raise LoginError(reply, expected=(230,), command="PASS ****")
