"""The one world-builder library of the tests: factories, and the small worlds each area's tests build on."""
