"""Evaluation suites: datasets, metrics and reports over the same public functions the product uses."""
