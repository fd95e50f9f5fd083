"""tests.unit.services.registry"""
