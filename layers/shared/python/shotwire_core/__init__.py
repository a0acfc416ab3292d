"""Shared core of shotwire: models, logic and adapters used by every function and by the local stack."""
