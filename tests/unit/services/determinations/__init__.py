"""tests.unit.services.determinations"""
