"""`python -m agent` runs the persona CLI."""

from .cli import main

main()
