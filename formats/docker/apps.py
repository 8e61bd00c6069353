from django.apps import AppConfig


class DockerConfig(AppConfig):
    name = "formats.docker"
    label = "docker"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from formats import registry

        from .plugin import DockerPlugin

        registry.register(DockerPlugin())
