"""``python -m hypoforge.cli``: the same as the ``hypoforge`` console script."""

from hypoforge.cli import main

main()
