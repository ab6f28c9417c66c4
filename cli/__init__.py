"""The ``comply`` command line: one command group per module, over the same functions as the app."""
