"""Storage backends: the interface and the local file system."""

from .base import (
    AlreadyExists,
    NotADirectory,
    NotFound,
    PermissionDenied,
    Storage,
    StorageError,
)
from .local import LocalStorage

__all__ = [
    "AlreadyExists",
    "LocalStorage",
    "NotADirectory",
    "NotFound",
    "PermissionDenied",
    "Storage",
    "StorageError",
]
