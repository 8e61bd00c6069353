"""The Maven format: deploy, resolve and proxy with server-generated maven-metadata.xml."""
