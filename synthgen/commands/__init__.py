"""One module per CLI command; each command's docstring is its ``--help``."""

#: Exit status of a command stopped with Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def counted(n: int, noun: str) -> str:
    """``"1 image"``, ``"2 images"``, ``"3 boxes"``: a count with its noun."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith(("s", "x")) else f"{n} {noun}s"
