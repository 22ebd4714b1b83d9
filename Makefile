# Two commands matter:  make run  (set up, ingest the demo corpus, start the app)
#                       make test (set up, run the test suite and the eval gate)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup system-deps ingest ask eval bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[llm,test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages used by the tests: Chromium for the browser test, Tesseract for OCR.
# Each script is idempotent and only prints a note where it cannot install.
system-deps:
	sh tests/browser/install_chromium.sh || echo "chromium non installato: il test nel browser sarà saltato"
	bash scripts/install_system_deps.sh

ingest: setup
	$(BIN)/python -m assistant ingest

run: ingest
	$(BIN)/python app.py

ask: ingest
	$(BIN)/python -m assistant ask "$(Q)"

# ruff (pyflakes and pycodestyle rules) and mypy --strict (pyproject's [tool.mypy]) on the
# package, before the tests
lint: setup
	$(BIN)/ruff check assistant evals tests bench app.py
	$(BIN)/mypy assistant

test: setup system-deps lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

eval: setup
	$(BIN)/python -m evals suite

bench: setup
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) index/chroma index/bm25 index/manifest.json
