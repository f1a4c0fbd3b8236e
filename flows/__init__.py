"""EMSYNC's infrastructure edge: the CLI, the Prefect flows, storage, and ops."""

import os

# Prefect phones home (client analytics, and the telemetry service of the ephemeral server it starts when
# no PREFECT_API_URL is set), which fails offline with "Failed to send telemetry" on stderr. EMSYNC runs on
# creators' laptops and closed fleets: off unless the environment opts in.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
