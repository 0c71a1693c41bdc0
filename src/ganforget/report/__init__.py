"""HTML reports of runs and experiments."""
