"""The asyncio FTP server: sessions, data channels, authentication, limits."""

from .auth import Account, Authenticator, hash_password
from .config import ConfigError, ServerConfig, load_config
from .server import FtpServer

__all__ = [
    "Account",
    "Authenticator",
    "ConfigError",
    "FtpServer",
    "ServerConfig",
    "hash_password",
    "load_config",
]
