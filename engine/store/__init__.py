"""Project store: folders of datasets, factors, runs, strategies and reports on disk."""
