from django.apps import AppConfig


class MavenConfig(AppConfig):
    name = "formats.maven"
    label = "maven"

    def ready(self):
        from formats import registry

        from .plugin import MavenPlugin

        registry.register(MavenPlugin())
