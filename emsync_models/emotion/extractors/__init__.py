"""Frozen feature extractors, one module per modality, all implementing `base.Extractor`."""
