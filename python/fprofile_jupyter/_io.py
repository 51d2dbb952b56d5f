"""Loading traces from files in every supported format."""
