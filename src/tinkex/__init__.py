"""tinkex: a typed Python SDK for the Tinker fine-tuning API."""
