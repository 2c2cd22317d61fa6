# The two commands a newcomer needs: `make serve` and `make test`.
# Everything else here is what those two depend on.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 2121

# Debian packages the integration tests drive (real clients, real servers, the NAT lab).
DEB_PACKAGES := curl lftp wget nftables iproute2 vsftpd

.PHONY: serve test lint typecheck check system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

## serve: create .venv, install, and serve ./ftp-root on loopback with printed credentials
serve: $(VENV)/.installed
	$(BIN)/ftpferry serve --host $(HOST) --port $(PORT) --root ./ftp-root

## system-deps: install the Debian packages the tests use (only when root and missing)
system-deps:
	@missing=""; \
	for tool in curl lftp wget nft ip vsftpd; do \
	  command -v $$tool >/dev/null 2>&1 || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages for:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES) >/dev/null; \
	  else \
	    echo "note: missing$$missing; tests that need them will be skipped (run as root to install)"; \
	  fi; \
	fi

## test: install everything the tests need, then run the whole suite
test: $(VENV)/.installed-test system-deps
	$(BIN)/python -bb -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy src

check: lint typecheck test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info

## bench: side-by-side benchmark vs pyftpdlib, vsftpd, proftpd, pure-ftpd (see bench/README.md)
.PHONY: bench
bench: $(VENV)/.installed-test
	@if [ "$$(id -u)" = 0 ]; then sh bench/install-servers.sh; \
	else echo "note: not root; the vsftpd, proftpd and pure-ftpd rows will say they were skipped"; fi
	$(BIN)/python bench/run.py $(BENCH_ARGS)
