"""URL map of /api/v1/users/, /teams/, /tokens/ (filled in by accounts.api)."""
urlpatterns = []
