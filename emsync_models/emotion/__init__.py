"""Video emotion: frozen feature extractors, a small trained fusion model, and the V/A mapping.

Import from `emsync_models.emotion.api`; submodules are building blocks.
"""
