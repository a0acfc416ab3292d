"""shotwire's API contract: request and answer models, limits, enumerations and device presets.

Pydantic only (no AWS, no HTTP): the API validates requests and builds answers with it, the OpenAPI document is
generated from it, and the SDK (which ships this package) checks requests and reads answers with it.
"""
