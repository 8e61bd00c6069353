"""The one content-addressed blob store shared by every repository and format."""
