"""Server configuration: one immutable, validated value.

The same settings come from a TOML file (``ftpferry serve --config``) and
from command-line flags (flags win).  pydantic validates them so that a bad
value stops start-up with one readable line, for example
``passive-ports 40000-39999 is an empty range``, instead of a traceback or a
server that fails at the first PASV.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .addressing import PassiveAddressPlan, parse_network

__all__ = [
    "ConfigError",
    "DefenderConfig",
    "Limits",
    "TlsConfig",
    "PortRange",
    "ServerConfig",
    "UserConfig",
    "load_config",
    "parse_port_range",
]


class ConfigError(ValueError):
    """A setting that cannot work; the message is one line for the user."""


class PortRange(BaseModel):
    """An inclusive range of TCP ports, e.g. the passive range."""

    model_config = ConfigDict(frozen=True)
    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"

    def __len__(self) -> int:
        return self.high - self.low + 1


def parse_port_range(text: str) -> PortRange:
    """Parse ``LO-HI`` (or a single port) into a validated range."""
    low_text, dash, high_text = text.strip().partition("-")
    if not low_text.strip().isdigit() or (dash and not high_text.strip().isdigit()):
        raise ConfigError(f"passive-ports {text!r} is not of the form LO-HI, e.g. 30000-30099")
    low = int(low_text)
    high = int(high_text) if dash else low
    if high < low:
        raise ConfigError(f"passive-ports {low}-{high} is an empty range")
    if not 1024 <= low <= 65535 or not 1024 <= high <= 65535:
        raise ConfigError(f"passive-ports {low}-{high} must lie within 1024-65535")
    return PortRange(low=low, high=high)


class UserConfig(BaseModel):
    """One account: a name, a password (argon2 hash or, from --user, plain), a home."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password_hash: str | None = None
    password: str | None = Field(default=None, repr=False)
    home: str | None = None
    read_only: bool = False
    tls_required: bool = False

    @model_validator(mode="after")
    def _one_password(self) -> UserConfig:
        if (self.password_hash is None) == (self.password is None):
            raise ValueError(f"user {self.name!r} needs exactly one of password_hash, password")
        if self.password_hash is not None and not self.password_hash.startswith("$argon2"):
            raise ValueError(
                f"user {self.name!r}: password_hash must be an argon2 hash "
                "(make one with `ftpferry hash-password`)"
            )
        return self


class TlsConfig(BaseModel):
    """FTPS (RFC 4217): certificate and policies."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cert: Path | None = None
    key: Path | None = None
    self_signed: bool = False
    implicit_port: int | None = Field(default=None, ge=0, le=65535)
    require_control: bool = False
    require_data: bool = False
    require_session_reuse: bool = False
    min_version: Literal["1.2", "1.3"] = "1.2"

    @property
    def enabled(self) -> bool:
        """True when a certificate is configured (or will be generated)."""
        return self.self_signed or self.cert is not None

    @model_validator(mode="after")
    def _certificate_present(self) -> TlsConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls needs both cert and key files")
        if self.cert is not None and self.self_signed:
            raise ValueError("tls: choose either cert/key or self-signed, not both")
        wants_tls = (
            self.require_control
            or self.require_data
            or self.require_session_reuse
            or self.implicit_port is not None
        )
        if wants_tls and not self.enabled:
            raise ValueError("tls policies need a certificate: give cert and key, or self-signed")
        return self


class DefenderConfig(BaseModel):
    """Brute-force defence: growing delays, then a temporary ban per address."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool = True
    max_failures: int = Field(default=10, ge=1)
    window: float = Field(default=300.0, gt=0)
    ban_time: float = Field(default=900.0, ge=0)
    base_delay: float = Field(default=1.0, ge=0)
    logins_per_minute: int = Field(default=1000, ge=1)
    allow: tuple[str, ...] = ()

    @field_validator("allow")
    @classmethod
    def _networks_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            parse_network(network)
        return value


class Limits(BaseModel):
    """Time-outs and connection limits; the defaults suit a public server."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    idle_timeout: float = Field(default=300.0, gt=0)
    login_timeout: float = Field(default=60.0, gt=0)
    data_timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=10_000, ge=1)
    max_connections_per_ip: int = Field(default=256, ge=1)
    max_commands_per_second: float = Field(default=1000.0, gt=0)


class ServerConfig(BaseModel):
    """Everything ``ftpferry serve`` needs; immutable once built."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=2121, ge=0, le=65535)
    root: Path = Path("./ftp-root")
    users: tuple[UserConfig, ...] = ()
    passive_ports: PortRange = PortRange(low=30000, high=30099)
    masquerade_address: str | None = None
    passive_address_map: dict[str, str] = Field(default_factory=dict)
    resolve_interval: float = Field(default=300.0, gt=0)
    active_source: Literal["auto", "control-minus-one", "ephemeral"] = "auto"
    anonymous: bool = False
    permit_foreign_addresses: bool = False
    limits: Limits = Limits()
    tls: TlsConfig = TlsConfig()
    defender: DefenderConfig = DefenderConfig()
    umask: int = Field(default=0o022, ge=0, le=0o777)
    run_as: str | None = None
    verbose: bool = False

    @field_validator("passive_ports", mode="before")
    @classmethod
    def _range_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_port_range(value)
        return value

    @field_validator("umask", mode="before")
    @classmethod
    def _umask_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return int(value, 8)
            except ValueError:
                raise ValueError(f"umask {value!r} is not an octal number such as 022") from None
        return value

    @field_validator("host")
    @classmethod
    def _host_is_address(cls, value: str) -> str:
        if value in {"", "*"}:
            return "0.0.0.0"
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if value != "localhost":
                raise ValueError(f"host {value!r} is not an IP address to listen on") from None
        return value

    @field_validator("passive_address_map")
    @classmethod
    def _networks_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for network in value:
            parse_network(network)
        return value


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]).replace("_", "-")
    message = str(first["msg"]).removeprefix("Value error, ")
    if isinstance(first.get("ctx", {}).get("error"), ConfigError):
        return message
    return f"{where}: {message}" if where else message


_MERGED_TABLES = frozenset({"limits", "passive_address_map", "tls", "defender"})


def load_config(file: Path | None, overrides: dict[str, Any]) -> ServerConfig:
    """Merge a TOML file and command-line overrides into a validated config.

    Raises :class:`ConfigError` with one line naming the bad setting.
    """
    data: dict[str, Any] = {}
    if file is not None:
        try:
            with file.open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config {file}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {file} is not valid TOML: {exc}") from exc
        data = {key.replace("-", "_"): value for key, value in data.items()}
    for key, value in overrides.items():
        if key == "users" and value:
            data["users"] = list(data.get("users", [])) + list(value)
        elif key in _MERGED_TABLES and value:
            data[key] = {**data.get(key, {}), **value}
        elif value is not None and key not in _MERGED_TABLES and key != "users":
            data[key] = value
    try:
        config = ServerConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from exc
    try:
        # Resolve every advertised address now: fail at start-up, not at the first PASV.
        PassiveAddressPlan(config.passive_address_map, config.masquerade_address)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return config
