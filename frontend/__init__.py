"""The admin web console (for now, a landing page that lists repositories and how to use them)."""
