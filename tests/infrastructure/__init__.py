"""Assertions on the synthesized CloudFormation template (no Docker, no AWS)."""
