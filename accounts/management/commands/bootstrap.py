"""Create the superuser `admin` from PACKYARD_ADMIN_PASSWORD when no user exists yet."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the bootstrap admin if the database has no users and PACKYARD_ADMIN_PASSWORD is set."

    def handle(self, *args, **options):
        User = get_user_model()
        password = settings.PACKYARD_ADMIN_PASSWORD
        if password and not User.objects.exists():
            User.objects.create_superuser("admin", "", password)
            self.stdout.write("created superuser admin")
