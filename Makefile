# The two commands a newcomer runs (see README): `make demo` and `make test`.
.PHONY: demo test install install-dev lint bench

demo: install
	.venv/bin/emsync demo --out emsync-demo.mp4

test: install-dev
	bash infra/test.sh

install:
	bash infra/install.sh

install-dev:
	bash infra/install.sh --dev

lint:
	.venv/bin/ruff check .

bench: install-dev
	bash benchmarks/run_all.sh
