"""Where results live: the object store, database rows for artifacts, sources and scratch folders."""
