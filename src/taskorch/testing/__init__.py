"""Stand-ins for the Git platforms, for the demo, offline trials and tests."""
