"""ftpferry: an FTP/FTPS server and client whose data channel just works."""

__version__ = "0.1.0"
__all__ = ["__version__"]
