"""Local Tinker backends for demos, examples and end-to-end tests (see backend/README.md)."""
