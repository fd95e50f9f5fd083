"""tests.unit.services.accounts"""
