"""The CDK app: `npx cdk synth --context stage=dev` (see docs/deployment.md).

Run by the CDK CLI as `python3 app.py` with the project's venv first on PATH (`make synth`),
or directly as `.venv/bin/python app.py`.
"""

import os

# jsii (under aws_cdk) prints a Node end-of-life banner on every start unless told not to.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.app import main

if __name__ == "__main__":
    main()
