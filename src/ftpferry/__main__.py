"""``python -m ftpferry`` runs the command line."""

from ftpferry.cli import main

main()
