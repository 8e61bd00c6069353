"""Packyard: a universal artifact repository manager (project wiring lives in this package)."""
__version__ = "0.1.0"

from .celery import app as celery_app  # noqa: E402  (Celery must load with Django)

__all__ = ["celery_app", "__version__"]
