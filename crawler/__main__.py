"""`python -m crawler` is the `newsarchive` command."""

from crawler.cli import main

raise SystemExit(main())
