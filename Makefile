# The two commands a new machine needs: `make run` and `make test`. Everything else they do themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export TRUSTVOTE_INSTANCE ?= $(CURDIR)/instance

.PHONY: run venue test install install-test translations messages screenshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# reinstall when pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d app/translations

# extract the msgids from code and templates and merge them into the catalogs (then translate app/translations/*/messages.po)
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o app/translations/messages.pot --no-location --sort-output --width 120 .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete --width 120

# how the server is started is also the address the ballots' QR codes hold (app/settings.py), unless
# TRUSTVOTE_BASE_URL says otherwise; plain HTTP beyond the loopback only with PLAIN_HTTP=1 (deploy/gunicorn.conf.py)
run: export TRUSTVOTE_BIND = $(HOST):$(PORT)
run: export TRUSTVOTE_PLAIN_HTTP = $(PLAIN_HTTP)
run: install
	$(BIN)/trustvote init
	$(BIN)/trustvote demo --if-empty
	@echo
	@echo "  TrustVote is running on http://$(HOST):$(PORT)/  (stop with Ctrl+C)"
	@echo "  ballots printed now hold $$($(BIN)/python -c 'from app.settings import Instance; print(Instance.from_env().base_url)') in their QR codes"
	@echo "  instance folder: $(TRUSTVOTE_INSTANCE)"
	@test -f "$(TRUSTVOTE_INSTANCE)/demo-ballots.pdf" && echo "  demo ballots of Phú Lộc (open voting first on its Phiếu page, as tochuc, kiemphieu2 or kiemphieu3): $(TRUSTVOTE_INSTANCE)/demo-ballots.pdf" || true
	@test -f "$(TRUSTVOTE_INSTANCE)/demo-paper-ballots.pdf" && echo "  demo paper ballots to count, marked, the expected result on page 1 (Thạch Bàn, log in as kiemphieu1 and kiemphieu3): $(TRUSTVOTE_INSTANCE)/demo-paper-ballots.pdf" || true
	@echo "  demo logins: quantri / quantri-demo-2025 (administrator), tochuc / tochuc-demo-2025 (organizer),"
	@echo "    kiemphieu1..3 / kiemphieu-demo-2025 (tellers), xemxa / xemxa-demo-2025 (a commune), xemtinh / xemtinh-demo-2025"
	@echo "    (the province: its dashboard), xemhuyen / xemhuyen-demo-2025 (Huyện ủy Tân Phú of 2020-2025, ended) (viewers)"
	@echo
	TRUSTVOTE_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'

# The venue: HTTPS on the laptop's address on the Wi-Fi (found, or ADDRESS=192.168.1.10), with a certificate
# authority of its own that the tablets install once from http://ADDRESS:8080/ (deploy/venue.py, README "At the venue")
VENUE_PORT ?= 8443
INSTALL_PORT ?= 8080
venue: install
	$(BIN)/trustvote init
	$(BIN)/trustvote demo --if-empty
	$(BIN)/python deploy/venue.py --port $(VENUE_PORT) --install-port $(INSTALL_PORT) $(if $(ADDRESS),--address $(ADDRESS))

# two workers (pytest-xdist): the suite on SQLite and PostgreSQL, browser tests included, on a 2-core machine
PYTEST_ARGS ?= -n 2

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the README's pictures: the browser tests on SQLite, writing their screenshots into docs/
screenshots: install-test
	TRUSTVOTE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -k sqlite

bench: install-test
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
