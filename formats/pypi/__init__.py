"""The PyPI format: twine uploads, the simple API (PEP 503/691), remote proxying, virtual merging."""
