# The two commands a newcomer runs (see README): `make demo` and `make test`.
.PHONY: demo test install install-dev lint bench lock

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

# Re-resolve every dependency to exact versions with hashes after editing pyproject.toml or
# requirements-nodeps.txt; commit the three requirements*.lock files it writes.
lock:
	bash infra/lock.sh
