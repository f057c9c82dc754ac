"""One module per schema revision (``0001`` ... ); each has ``upgrade()`` and ``downgrade()``."""
