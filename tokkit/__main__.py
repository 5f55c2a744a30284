"""``python -m tokkit`` runs the command line."""

from tokkit.cli.main import main

main()
