"""``python -m igae`` runs the command-line interface."""

from igae.commands import main

raise SystemExit(main())
