"""Outbound webhook endpoints per workspace and each delivery of an event to one of them."""
