from django.apps import AppConfig


class PypiConfig(AppConfig):
    name = "formats.pypi"
    label = "pypi"

    def ready(self):
        from formats import registry

        from .plugin import PypiPlugin

        registry.register(PypiPlugin())
