# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install ganzoo + built-in plugins, train the MLP GAN on the embedded MNIST, sample
#   make test   create/update .venv and run the whole test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ganzoo-installed
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))

.PHONY: install demo test bench

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGIN_DIRS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" $(addprefix -e ,$(PLUGIN_DIRS))
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ganzoo train mlp --epochs 20 --out runs/demo --overwrite
	$(BIN)/ganzoo sample runs/demo/generator.safetensors --num 64 --seed 0 --out runs/demo/samples.png

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-json=runs/benchmarks/benchmark.json
