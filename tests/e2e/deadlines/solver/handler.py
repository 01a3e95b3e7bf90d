"""A solver that cannot answer: every request is dead-lettered."""

from soorma import Worker
from soorma_common.errors import PermanentError

worker = Worker(name="solver")


@worker.on_task("answer.compute")
def solve(event, context) -> dict:
    raise PermanentError("the solver is broken")


handler = worker.lambda_handler
