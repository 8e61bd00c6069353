"""Usernames are unique regardless of case: a unique index on LOWER(username) backs the API's check against races."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(
            sql="CREATE UNIQUE INDEX accounts_user_username_ci ON auth_user (LOWER(username))",
            reverse_sql="DROP INDEX accounts_user_username_ci",
        ),
    ]
