"""WSGI entry point for gunicorn (zero-copy file serving needs WSGI's file_wrapper)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "packyard.settings")
application = get_wsgi_application()
