"""Handlers for FTPS (RFC 4217): AUTH, PBSZ, PROT and CCC.

AUTH TLS answers ``234`` and then hands the connection to asyncio's
``start_tls``; the session keeps going on the new transport, with the same
state.  PBSZ must follow AUTH and PROT must follow PBSZ, as RFC 4217 9
orders them.  CCC (dropping back to clear text) is refused: NAT helpers are
the only ones who want it, and a masquerade address serves them better.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ftpferry.protocol import ReplyCode

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["auth", "clear_command_channel", "protection_buffer_size", "protection_level"]

log = logging.getLogger("ftpferry.tls")


async def auth(session: Session, arg: str) -> None:
    """AUTH TLS (and the legacy names SSL, TLS-C, TLS-P)."""
    context = session.server.tls_context
    if context is None:
        session.reply(ReplyCode.NOT_IMPLEMENTED, "TLS is not configured on this server.")
        return
    mechanism = arg.strip().upper()
    if mechanism not in {"TLS", "SSL", "TLS-C", "TLS-P"}:
        session.reply(
            ReplyCode.NOT_IMPLEMENTED_FOR_PARAM, f"AUTH {mechanism[:20]} is not supported."
        )
        return
    if session.tls_active:
        session.reply(ReplyCode.BAD_SEQUENCE, "TLS is already active.")
        return
    transport = session.transport
    assert transport is not None
    session.reply(ReplyCode.SECURITY_EXCHANGE_OK, f"AUTH {mechanism} ok; start the TLS handshake.")
    loop = asyncio.get_running_loop()
    try:
        secure = await loop.start_tls(
            transport,
            session,
            context,
            server_side=True,
            ssl_handshake_timeout=session.server.config.limits.data_timeout,
        )
    except (OSError, TimeoutError, ConnectionError) as exc:
        log.warning("TLS handshake with %s failed: %s", session.peer, exc)
        session.close()
        return
    if secure is None:  # pragma: no cover - only when the transport closed meanwhile
        session.close()
        return
    session.transport = secure
    session.tls_active = True
    session.close_data_channel()  # nothing made before the handshake carries on after it
    # RFC 4217 12.1: a legacy "AUTH SSL" implies protected data as well.
    if mechanism in {"SSL", "TLS-P"}:
        session.prot_private = True
    log.info("TLS established with %s (%s)", session.peer, secure.get_extra_info("cipher"))


async def protection_buffer_size(session: Session, arg: str) -> None:
    """PBSZ: only 0 makes sense for TLS; it must follow AUTH."""
    if not session.tls_active:
        session.reply(ReplyCode.BAD_SEQUENCE, "PBSZ needs AUTH TLS first.")
        return
    if not arg.strip().isdigit():
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: PBSZ 0")
        return
    session.pbsz_done = True
    session.reply(ReplyCode.OK, "PBSZ=0")


async def protection_level(session: Session, arg: str) -> None:
    """PROT P (private) or C (clear) for data connections."""
    level = arg.strip().upper()
    if not session.tls_active or not session.pbsz_done:
        session.reply(ReplyCode.BAD_SEQUENCE, "PROT needs AUTH TLS and PBSZ 0 first.")
        return
    if level == "P":
        session.close_data_channel()  # one kept by block mode was made under the old level
        session.prot_private = True
        session.reply(ReplyCode.OK, "Data connections will be protected (PROT P).")
    elif level == "C":
        if session.data_protection_required:
            session.reply(ReplyCode.POLICY_REQUIRES_TLS, "Policy requires PROT P.")
            return
        session.close_data_channel()
        session.prot_private = False
        session.reply(ReplyCode.OK, "Data connections will be in clear text (PROT C).")
    elif level in {"S", "E"}:
        session.reply(ReplyCode.PROTECTION_LEVEL_NOT_SUPPORTED, f"PROT {level} is not supported.")
    else:
        session.reply(ReplyCode.SYNTAX_ERROR_ARGS, "Syntax: PROT P | C")


async def clear_command_channel(session: Session, arg: str) -> None:
    """CCC: refused by policy."""
    if not session.tls_active:
        session.reply(ReplyCode.BAD_SEQUENCE, "The command channel is not protected.")
        return
    session.reply(ReplyCode.PROTECTION_DENIED, "CCC is refused by policy.")
