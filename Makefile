# The two commands of the README: `make demo` (the local cloud running a real scenario) and
# `make test` (the whole suite). Both install what they need first, from PyPI and npm only.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
IAC_VENV ?= .venv-iac
IAC_STAMP := $(IAC_VENV)/.installed

# The CDK CLI must never reach the network: no notices, telemetry, version check, or banners.
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true

.PHONY: install demo test lint iac-scan synth clean

install: $(STAMP)
	@echo "soorma is installed in $(VENV)/bin: run $(VENV)/bin/soorma, or first"
	@echo "  source $(VENV)/bin/activate   (then: soorma --help, soorma init NAME --kind worker)"

# Takes a few minutes from scratch (Python packages, then the CDK's npm packages); each step
# says what it does.
$(STAMP): requirements-dev.txt pyproject.toml package.json package-lock.json
	@echo "[1/4] creating the virtual environment $(VENV)"
	python3 -m venv $(VENV)
	@echo "[2/4] upgrading pip"
	$(VENV)/bin/pip install --quiet --upgrade pip
	@echo "[3/4] installing soorma and the dev tools into $(VENV) (pip; the longest step)"
	set -o pipefail; $(VENV)/bin/pip install -r requirements-dev.txt 2>&1 \
		| { grep -E --line-buffered '^(Collecting|Successfully|ERROR)' || true; }
	@echo "[4/4] installing the CDK's node packages (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/soorma dev examples --scenario order-fanout

test: $(STAMP)
	$(VENV)/bin/pytest -n 2 --dist loadfile

lint: $(STAMP) iac-scan
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# checkov lives in its own venv (it pins an older boto3 than the project's).
$(IAC_STAMP): requirements-iac.txt
	@echo "installing the IaC scanner (checkov) into $(IAC_VENV)"
	python3 -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/pip install --quiet -r requirements-iac.txt
	touch $(IAC_STAMP)

# The examples' synthesized templates, scanned offline; .checkov.yaml lists each skipped check
# and why. Any other finding fails.
iac-scan: $(STAMP) $(IAC_STAMP)
	rm -rf cdk.out.scan
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
		$(PY) -m infra.iac_scan cdk.out.scan
	$(IAC_VENV)/bin/checkov --config-file .checkov.yaml

synth: $(STAMP)
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
		PATH="$(CURDIR)/$(VENV)/bin:$$PATH" npx cdk synth --quiet

clean:
	rm -rf $(VENV) $(IAC_VENV) node_modules cdk.out cdk.out.scan
