# AlphaForge-UI — two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  := torch==2.13.0
# Idle OpenMP threads sleep instead of spinning: much faster on 2 shared cores (bench_expr.py).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: run test test-all lint bench demo clean help chromium postgres poppler bundle

help:
	@echo "make run      create .venv, install, open the app on the demo project"
	@echo "make test     install test needs and run the whole suite"
	@echo "make test-all also run tests marked slow"
	@echo "make lint     ruff"
	@echo "make bench    run the benchmarks (results in benchmarks/RESULTS.md)"
	@echo "make bundle   build the desktop app folder dist/AlphaForge-UI/ (then packaging/smoke.sh)"

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: an unpinned torch would pull gigabytes of CUDA wheels.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q $(TORCH)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m engine.cli demo --if-missing

run: demo
	$(PY) launcher.py

# Browser tests drive Debian's chromium; install it when missing and we may (root + apt).
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# The PostgreSQL connector tests start a throw-away server (initdb/pg_ctl from Debian's
# postgresql package); install it when missing and we may (root + apt).
postgres:
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing postgresql for the database connector tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends postgresql >/dev/null; \
	fi

# The PDF tests render pages to PNG with poppler's pdftoppm; install it when missing and we
# may (root + apt).
poppler:
	@if ! command -v pdftoppm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing poppler-utils for the PDF tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends poppler-utils >/dev/null; \
	fi

# The sweep tests start a throw-away Ray head on 127.0.0.1: the tests install the optional
# `cluster` extra (make run and the desktop bundle do not need it).
CLUSTER_STAMP := $(VENV)/.cluster-installed
$(CLUSTER_STAMP): $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev,cluster]'
	@touch $(CLUSTER_STAMP)

test: $(STAMP) $(CLUSTER_STAMP) chromium postgres poppler
	$(PY) -m pytest

test-all: $(STAMP) $(CLUSTER_STAMP)
	$(PY) -m pytest -m ''

lint: $(STAMP)
	$(PY) -m ruff check engine alphaforge_app tests benchmarks launcher.py

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b --quick || exit 1; done

# Desktop app, one folder (PyInstaller; several minutes: torch is most of it). Release check:
# `make bundle && packaging/smoke.sh` (docs/desktop-build.md).
BUNDLE_STAMP := $(VENV)/.bundle-installed
$(BUNDLE_STAMP): $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev,bundle]'
	@touch $(BUNDLE_STAMP)

bundle: $(BUNDLE_STAMP)
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build \
		packaging/AlphaForge-UI.spec

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
