"""Loopback emulators of the providers' real HTTP APIs (one module per provider, shared `base`).

They speak each provider's contract (paths, headers, casing, status spellings, error bodies) so
that both reelforge's adapters and the providers' official SDKs can be tested without internet.
"""
