"""Service tests by area, as aidservice/services is grouped."""
