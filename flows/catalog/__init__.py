"""Catalogs: manifests, registration, claims and the Prefect flows that score and soundtrack them."""
