"""Operator commands for a shotwire stack, local (moto) or deployed: `python -m admin --help`."""
