from django.apps import AppConfig


class NpmConfig(AppConfig):
    name = "formats.npm"
    label = "npm"

    def ready(self):
        from formats import registry

        from .plugin import NpmPlugin

        registry.register(NpmPlugin())
