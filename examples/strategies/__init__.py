"""Example user strategies for ``[[agents]]`` entries (``class = "examples.strategies.MODULE:Class"``)."""
