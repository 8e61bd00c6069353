from django.apps import AppConfig


class DockerConfig(AppConfig):
    name = "formats.docker"
    label = "docker"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from formats import registry
        from formats.base import register_collector

        from .gc import collect_links
        from .plugin import DockerPlugin

        registry.register(DockerPlugin())
        # Unlinks blobs no manifest references before the core GC collects unreferenced blobs.
        register_collector("docker", collect_links)
