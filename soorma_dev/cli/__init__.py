"""The `soorma` command line (typer + rich): `main` is the console script, `app` the typer app.

One module per command group, registered explicitly in `app.py`: `manifest.py` (`manifest`),
`local_cloud.py` (`send`, `trace`), `dev.py` (`dev`), `dead_letters.py` (`dlq list/show/redrive`),
`scaffold.py` (`init`), `registry.py` (`events`, `graph`, `asyncapi`), `memory.py`
(`memory forget`). Shared: `errors.py` (one-line errors and exit codes), `parsing.py` (input),
`connection.py` (finding the running local cloud), `output.py` (consoles).
"""

from soorma_dev.cli.app import app, main

__all__ = ["app", "main"]
