"""The layer above the core and the venues: it reads the user's scenario, wires core actors to venue adapters,
and holds the commands (`run`, `chaos`, `verify-feed`, `record`, `venue`).

Nothing in the core packages (`engine.runtime`, `engine.model`, `engine.actors`, `engine.replay`,
`engine.report`, `engine.strategies`) imports from here or from `adapters`; the import-linter contracts in
`pyproject.toml` keep it so.
"""
