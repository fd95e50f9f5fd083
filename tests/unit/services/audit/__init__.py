"""tests.unit.services.audit"""
