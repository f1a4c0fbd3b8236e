"""EMSYNC's infrastructure edge: the CLI, the Prefect flows, storage, and ops."""

import os

# Prefect phones home (client analytics, and the telemetry service of the ephemeral server it starts when
# no PREFECT_API_URL is set), which fails offline with "Failed to send telemetry" on stderr. EMSYNC runs on
# creators' laptops and closed fleets: off unless the environment opts in.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Without a Prefect server Prefect starts a temporary one and gives it 20 s; on a busy laptop or a shared
# 2-core worker that start takes longer, and the whole command would fail with a timeout.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
