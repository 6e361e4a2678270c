# Plain entry points; each creates the virtualenv from requirements.txt on first use.
PYTHON ?= python3
VENV   ?= venv
PY     := $(VENV)/bin/python
STACK  ?= dev
OUT    ?= out/$(STACK)

.PHONY: venv test plan bench clean

$(VENV)/.installed: requirements.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r policies/requirements.txt
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
