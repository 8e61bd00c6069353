"""Users, teams, API tokens and how a request's credentials become a user."""
