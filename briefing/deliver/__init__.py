"""Delivery: editions emailed to subscribers, with a ledger so no one is missed or mailed twice."""

from briefing.deliver.send import DeliveryCounts, DeliveryError, send_edition, send_notice

__all__ = ["DeliveryCounts", "DeliveryError", "send_edition", "send_notice"]
