"""Run inside the packaging venv: import `handler` and call it once with a recorded SQS event.

Usage: python lambda_driver.py EVENT_JSON RESULT_JSON. Only what Lambda would have is on the
path: the venv (Powertools, boto3), the layer's `python/` dir and the function folder.
"""

import json
import sys


class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name = "soorma-smoke"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:soorma-smoke"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/soorma-smoke"
    log_stream_name = "smoke"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    event_file, result_file = sys.argv[1], sys.argv[2]
    import handler

    with open(event_file) as source:
        event = json.load(source)
    result = handler.handler(event, LambdaContext()) if event else {"imported": True}
    with open(result_file, "w") as target:
        json.dump({"result": result, "paths": sys.path}, target)


main()
