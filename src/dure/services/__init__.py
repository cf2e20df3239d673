"""Use cases that join the store and the models: accounts, imports, the demo world."""
