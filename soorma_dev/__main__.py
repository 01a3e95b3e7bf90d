"""`python -m soorma_dev ...` is the `soorma` CLI."""

from soorma_dev.cli import main

main()
