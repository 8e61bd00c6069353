"""OpenAPI description of Packyard's credentials for drf-spectacular (imported by repositories.api.urls).

accounts.drf.PackyardAuthentication accepts HTTP Basic (password or API token) or a Bearer API
token; without this extension drf-spectacular would describe it as a second, clashing cookie scheme.
"""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PackyardScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.drf.PackyardAuthentication"
    name = ["basicAuth", "bearerAuth"]
    priority = 1

    def get_security_requirement(self, auto_schema):
        return [{"basicAuth": []}, {"bearerAuth": []}]  # either one (OR), not both

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "basic", "description": "username with a password or an API token"},
            {"type": "http", "scheme": "bearer", "description": "an API token"},
        ]
