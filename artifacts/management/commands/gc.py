"""`packyard manage gc [--dry-run]`: collect unreferenced blobs and abandoned uploads now."""
from django.core.management.base import BaseCommand

from artifacts import gc


class Command(BaseCommand):
    help = "Delete blobs no asset references and abandoned uploads; print count and bytes freed."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only report what would be freed")
        parser.add_argument("--grace-seconds", type=int, default=None,
                            help="skip blobs linked more recently than this (default: settings)")

    def handle(self, *args, dry_run=False, grace_seconds=None, **options):
        report = gc.collect(dry_run=dry_run, grace_seconds=grace_seconds)
        self.stdout.write(report.summary(dry_run))
