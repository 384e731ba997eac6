# The README's two commands: `make demo` and `make test`. Both build .venv on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (the manifests' security scan) pins networkx<2.7 and packaging<24, which clash with the project's:
# it gets a virtual environment of its own, which tests/k8s finds at this path.
CHECKOV := $(VENV)/checkov/bin/checkov
DEMO_DIR ?= demo
# OHIF Viewer's prebuilt app (npm package @ohif/app, its dist/), the real web viewer tests/pacs/test_viewer.py drives;
# fetched with npm when npm is there (the test says why it skips when not).
OHIF_VERSION := 3.13.2
OHIF := .cache/ohif/$(OHIF_VERSION)/package/dist/index.html

.PHONY: install demo test clean ohif

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dashboard,pacs,docs]'
	$(BIN)/medxai triton setup  # tritonserver and its Python-backend stub, with the NumPy 1 the stub needs: .venv/triton
	touch $(STAMP)

$(CHECKOV):
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet checkov==3.3.30

ohif: $(OHIF)

$(OHIF):
	@if command -v npm >/dev/null; then \
		mkdir -p .cache/ohif/$(OHIF_VERSION) && cd .cache/ohif/$(OHIF_VERSION) && \
		{ npm pack --silent @ohif/app@$(OHIF_VERSION) >/dev/null && tar xzf ohif-app-$(OHIF_VERSION).tgz && \
		  rm ohif-app-$(OHIF_VERSION).tgz; } || echo "could not fetch @ohif/app: the OHIF viewer test will be skipped"; \
	else echo "npm not found: the OHIF viewer test will be skipped"; fi

demo: $(STAMP)
	$(BIN)/medxai demo --workdir $(DEMO_DIR)

test: $(STAMP) $(CHECKOV) ohif
	$(BIN)/python -m pytest -q -ra --durations=20

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .cache
