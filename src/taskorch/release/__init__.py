"""Release coordination: versions, changelogs, tags and platform releases from finished work."""
