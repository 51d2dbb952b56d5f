"""Display of a Trace: notebook widget mimebundle, show()."""
