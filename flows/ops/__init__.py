"""What ops see: run outcomes, live progress, the Prometheus exporter and the one-machine dashboard."""
