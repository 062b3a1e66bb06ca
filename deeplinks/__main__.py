"""`python -m deeplinks`: the same as the `deeplinks` command."""

from __future__ import annotations

from deeplinks.cli import main

raise SystemExit(main())
