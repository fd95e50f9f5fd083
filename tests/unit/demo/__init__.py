"""tests.unit.demo"""
