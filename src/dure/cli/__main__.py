"""`python -m dure.cli …`: the same commands as `dure …` (used to start connectors)."""

from dure.cli import main

main()
