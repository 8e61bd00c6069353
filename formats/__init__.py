"""Format plugins (pypi, npm, maven, docker) and the router that hands them requests."""
