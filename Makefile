# Plain entry points; each creates the virtualenv from requirements.txt on first use.
PYTHON ?= python3
VENV   ?= venv
PY     := $(VENV)/bin/python
STACK  ?= dev
OUT    ?= out/$(STACK)

.PHONY: venv lint test plan bench clean docs

$(VENV)/.installed: requirements.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r policies/requirements.txt
	touch $@

venv: $(VENV)/.installed

# ruff (lint rules and the formatter's check) and mypy; settings in pyproject.toml. The program, the policy pack
# and the app-team example are three import roots, each with its own __main__.py: mypy reads them one at a time.
LINT_PATHS  ?= .
MYPY_PATHS  ?= __main__.py components stack_config tools tests benchmarks
lint: venv
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy $(MYPY_PATHS)
	$(PY) -m mypy policies
	$(PY) -m mypy examples/app-team

test: venv lint
	$(PY) -m pytest -q

# Regenerate the generated docs: the README config reference, docs/outputs.md, docs/policies.md and the README rule table.
docs: venv
	$(PY) -m stack_config.gen_docs
	$(PY) -m components.platform_outputs --write-docs
	$(PY) policies/gen_docs.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .mypy_cache .ruff_cache

# Offline preview, no cloud credentials: the program under mocks + the policy pack over the analyzer
# protocol, plus the schema checks; prints the plan, writes $(OUT)/plan.json and $(OUT)/manifests/, exits 1 on
# mandatory violations or schema findings.
POLICY_PACK ?= policies
plan: venv
	$(PY) -m tools.preview --stack $(STACK) --out $(OUT) --policy-pack $(POLICY_PACK) $(if $(POLICY_CONFIG),--policy-config $(POLICY_CONFIG))

# Offline preview vs bare SDK import time, and policy throughput at 1,000 / 10,000 resources.
bench: venv
	$(PY) benchmarks/bench.py
