"""``tinker.types.billing_usage_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import GetBillingUsageRequest

__all__ = ["GetBillingUsageRequest"]
