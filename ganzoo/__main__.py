"""``python -m ganzoo`` (what torchrun launches) is the ``ganzoo`` command."""

from ganzoo.cli import main

raise SystemExit(main())
