# Plain entry points; each creates the virtualenv from requirements.txt on first use.
PYTHON ?= python3
VENV   ?= venv
PY     := $(VENV)/bin/python

.PHONY: venv policy-venv lint test plan plan-all bench clean docs reseal

$(VENV)/.installed: requirements.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r policies/requirements.txt
	touch $@

venv: $(VENV)/.installed

# ruff (lint rules and the formatter's check) and mypy; settings in pyproject.toml. The program, the policy pack
# and the app-team example are three import roots, each with its own __main__.py: mypy reads them one at a time.
LINT_PATHS  ?= .
MYPY_PATHS  ?= __main__.py program components stack_config tools tests benchmarks
lint: venv
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy $(MYPY_PATHS)
	$(PY) -m mypy policies
	$(PY) -m mypy examples/app-team

# One pytest worker per CPU (pytest-xdist); --dist loadscope keeps a module's tests, and so its module fixtures
# (a program run once for many assertions), in one worker. The suite is one process per run otherwise.
test: venv lint
	$(PY) -m pytest -q -n auto --dist loadscope

# Regenerate the generated docs: the README config reference, docs/outputs.md, docs/policies.md and the README rule table.
docs: venv
	$(PY) -m stack_config.gen_docs
	$(PY) -m components.outputs_docs --write-docs
	$(PY) policies/gen_docs.py

clean:
	rm -rf $(VENV) $(POLICY_VENV) out .pytest_cache .hypothesis .mypy_cache .ruff_cache

# Offline preview, no cloud credentials: the program under mocks + the policy pack over the analyzer
# protocol, plus the schema checks; prints the plan, writes $(OUT)/plan.json and $(OUT)/manifests/ (OUT defaults
# to out/$(STACK) and must lie inside out/). STACK, OUT, POLICY_PACK and POLICY_CONFIG reach the tool through the
# environment, never pasted into the shell line, and $(value ...) keeps make from expanding them either: a value
# is data (`make plan STACK='dev; rm -rf ~'` is only a bad stack name, exit 2). GNU make itself can only exit 0
# or 2, so a failed preview's own code (1 violations, 2 config, 3 failure) is printed on the last line; scripts
# that branch on it run `venv/bin/python -m tools.preview` directly.
# (Made simple variables holding their literal text: make exports command-line variables to every recipe, and
# exporting a recursive `$(shell ...)` value would run it.)
override STACK := $(value STACK)
override OUT := $(value OUT)
override POLICY_PACK := $(value POLICY_PACK)
override POLICY_CONFIG := $(value POLICY_CONFIG)
plan plan-all: export PREVIEW_STACK := $(STACK)
plan plan-all: export PREVIEW_OUT := $(OUT)
plan plan-all: export PREVIEW_POLICY_PACK := $(POLICY_PACK)
plan plan-all: export PREVIEW_POLICY_CONFIG := $(POLICY_CONFIG)
plan: venv
	@$(PY) -m tools.preview --stack "$${PREVIEW_STACK:-dev}" --out "$$PREVIEW_OUT" --out-within out \
		--policy-pack "$$PREVIEW_POLICY_PACK" --policy-config "$$PREVIEW_POLICY_CONFIG"; \
	code=$$?; [ $$code -eq 0 ] || echo "make plan: the preview exited $$code" >&2; exit $$code

# Every Pulumi.*.yaml stack in one process (owner stacks first), one summary table, the worst exit code.
plan-all: venv
	@$(PY) -m tools.preview --all --out "$${PREVIEW_OUT:-out}" --out-within out \
		--policy-pack "$$PREVIEW_POLICY_PACK" --policy-config "$$PREVIEW_POLICY_CONFIG"; \
	code=$$?; [ $$code -eq 0 ] || echo "make plan-all: the worst preview exited $$code" >&2; exit $$code

# The policy pack's own virtualenv. The engine runs a Python pack with the interpreter of the virtualenv that
# PulumiPolicy.yaml names (runtime.options.virtualenv: venv, relative to policies/), so
# `pulumi preview --policy-pack policies` needs policies/venv; the offline preview uses it too once it exists.
POLICY_VENV := policies/venv
$(POLICY_VENV)/.installed: policies/requirements.txt
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(POLICY_VENV)/bin/python -m pip install --quiet -r policies/requirements.txt
	touch $@

policy-venv: $(POLICY_VENV)/.installed

# Offline preview vs bare SDK import time, and policy throughput at 1,000 / 10,000 resources.
bench: venv
	$(PY) benchmarks/bench.py

# Re-encrypt an app team's SealedSecrets (one a file, under DIR) to the newest sealing key, in place. Needs
# kubeseal and cluster access: the controller re-encrypts inside the cluster. See docs/sealed-secrets.md.
reseal: venv
	@test -n "$(DIR)" || { echo "usage: make reseal DIR=<directory of SealedSecret manifests>" >&2; exit 2; }
	$(PY) -m tools.reseal $(DIR)
