# Two entry points, both starting from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_EVENTS := examples/ukraine-2024-10-26.json
LOSSES := ../shared/data/ukraine-war-losses
LOSSES_SOURCE := General Staff of the Armed Forces of Ukraine (its claims), via the 2022 Ukraine Russia War Dataset by Petro Ivaniuk (MIT licence)

.PHONY: setup demo test lint format bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/briefing --quiet events import $(DEMO_EVENTS)
	@if [ -d $(LOSSES) ]; then \
		$(BIN)/briefing --quiet series import --cumulative --prefix russian_losses --exclude day \
			--source "$(LOSSES_SOURCE)" \
			$(LOSSES)/russia_losses_personnel.json $(LOSSES)/russia_losses_equipment.json; \
	else echo "$(LOSSES) not found: the demo brief will have no 30-day trends"; fi
	$(BIN)/briefing generate --date 2024-10-26

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy briefing

# Worker processes for the suite: more than the cores, as many tests wait on daemons and sockets.
TEST_WORKERS ?= 5

test: lint
	$(BIN)/python -m pip check
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist worksteal

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
