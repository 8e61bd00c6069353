"""The npm format: publish, packuments, dist-tags, remote proxying and virtual merging for npm clients."""
