"""Data layer: schema, loaders, validation, dense panels, targets and the synthetic market."""
