#!/usr/bin/env bash
# Every benchmark, one after the other (each prints its own table; results land in benchmarks/results/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
for b in soundtrack emotion generate decode music_load serving catalog metrics_scrape; do
  [[ -f "benchmarks/$b.py" ]] || continue
  echo "== benchmarks/$b.py"
  python -m "benchmarks.$b"  # as modules: a script path would let benchmarks/serving.py shadow serving/
done
