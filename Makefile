# The two commands a newcomer runs (see README): `make demo` and `make test` (`make test-fast`: no servers).
.PHONY: demo test test-fast install install-dev install-triton lint bench lock smoke

demo: install
	.venv/bin/emsync demo --out emsync-demo.mp4 --plot emsync-demo.png --force

test: install-dev
	bash infra/test.sh

# No servers, no slow tests (token-by-token generation, whole jobs): the loop while editing.
test-fast: install-dev
	.venv/bin/ruff check .
	.venv/bin/pytest -q -m "not integration and not slow" --durations=10

install:
	bash infra/install.sh

install-dev:
	bash infra/install.sh --dev

# The runtime plus Triton Inference Server (what infra/triton.sh runs), from requirements-triton.lock.
install-triton:
	bash infra/install.sh --triton

# Builds the worker and Triton images with podman and runs a 5-video catalog backfill through them
# against PostgreSQL, S3 and Prefect on loopback (infra/smoke.sh; about 9 minutes, not part of `make test`).
smoke: install-dev
	bash infra/smoke.sh

lint:
	.venv/bin/ruff check .

bench: install-dev
	bash benchmarks/run_all.sh

# Re-resolve every dependency to exact versions with hashes after editing pyproject.toml or
# requirements-nodeps.txt; commit the three requirements*.lock files it writes.
lock:
	bash infra/lock.sh
