"""tests.unit.services.applications"""
