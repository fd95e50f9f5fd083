"""Accounts and credentials: users and clients, tokens, passwords, the sign-in throttle, devices, the identity-number lookup budget, key fingerprints."""
