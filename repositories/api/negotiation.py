"""Content negotiation for views whose `?format=` is a package format (CONTRACT.md: search, listing).

DRF reads `?format=` as a renderer override by default, which would turn `?format=npm` into a
404; these views choose the renderer from the Accept header only.
"""
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import APISettings


class AcceptHeaderOnly(DefaultContentNegotiation):
    settings = APISettings(user_settings={"URL_FORMAT_OVERRIDE": None})
