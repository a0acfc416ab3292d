"""`python -m shotwire.cli …`: the same as the `shotwire` command."""

from shotwire.cli import main

raise SystemExit(main())
