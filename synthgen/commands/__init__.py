"""One module per CLI command; each command's docstring is its ``--help``."""
