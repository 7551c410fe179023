"""Tools that generate and check the contracts in ``contracts/`` (AsyncAPI, OpenAPI, schemas)."""
