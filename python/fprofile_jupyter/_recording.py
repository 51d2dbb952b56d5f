"""Recording: ThreadProfiler (PYME drop-in) and profile() (context manager / decorator)."""
