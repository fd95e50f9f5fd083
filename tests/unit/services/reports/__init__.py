"""tests.unit.services.reports"""
