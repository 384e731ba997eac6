# The README's two commands: `make demo` and `make test`. Both build .venv on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (the manifests' security scan) pins networkx<2.7 and packaging<24, which clash with the project's:
# it gets a virtual environment of its own, which tests/k8s finds at this path.
CHECKOV := $(VENV)/checkov/bin/checkov
DEMO_DIR ?= demo

.PHONY: install demo test clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dashboard,pacs]'
	touch $(STAMP)

$(CHECKOV):
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet checkov==3.3.30

demo: $(STAMP)
	$(BIN)/medxai demo --workdir $(DEMO_DIR)

test: $(STAMP) $(CHECKOV)
	$(BIN)/python -m pytest -q -ra

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
