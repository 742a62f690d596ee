"""``python -m igae`` runs the command-line interface."""

from igae.cli import main

raise SystemExit(main())
