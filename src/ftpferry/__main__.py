"""``python -m ftpferry`` runs the command line."""

from ftpferry.launch import main

main()
