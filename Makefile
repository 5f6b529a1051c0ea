# Two commands do all the set-up: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COMPAT_VENV := .venv-compat
COMPAT_PY := $(COMPAT_VENV)/bin/python
# Sockets are blocked except loopback: no test can reach a provider.
PYTEST_NET := --allow-hosts=127.0.0.1,::1,localhost

.PHONY: demo test test-compat docs bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[all,test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m cascadeflow_integrations.demo

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_NET) -q

# Provider tests on the oldest SDK majors in range (httpx-based openai 2.x, anthropic 0.x, groq 0.x),
# installed beside langchain-openai/-anthropic/-groq and llama-index-llms-openai to prove they co-install.
$(COMPAT_VENV)/.installed: pyproject.toml
	test -x $(COMPAT_PY) || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_PY) -m pip install -q --upgrade pip
	$(COMPAT_PY) -m pip install -q -e ".[all,test]" "openai>=2.45,<3" "anthropic>=0.120,<1" "groq>=0.30,<1" \
		langchain-openai langchain-anthropic langchain-groq llama-index-llms-openai llama-index-llms-openai-like \
		llama-index-llms-anthropic
	touch $@

test-compat: $(COMPAT_VENV)/.installed
	$(COMPAT_PY) -m pip check
	$(COMPAT_PY) -m pytest $(PYTEST_NET) -q -m compat

# The documentation site (docs/, mkdocs.yml): a broken link, anchor or code reference fails the build.
# It needs nothing beyond the package registry (no fonts, no social cards, no inventories).
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

bench: $(VENV)/.installed
	$(PY) -m pip install -q cascadeflow==1.2.0 langchain-openai partial-json-parser jiter
	$(PY) bench/overhead.py
	$(PY) bench/ttft.py
	$(PY) bench/json_parse.py --readme bench/README.md
	$(PY) bench/quality.py --readme bench/README.md
	$(PY) bench/model_checks.py --readme bench/README.md
	$(PY) bench/learning.py --readme bench/README.md --png bench/learning.png
	$(PY) bench/certified.py --readme bench/README.md --png bench/certified.png
	$(PY) bench/fleet.py
	$(PY) bench/cache_cost.py --readme bench/README.md

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .pytest_cache .hypothesis site
