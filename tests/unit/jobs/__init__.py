"""tests.unit.jobs"""
