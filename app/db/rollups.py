"""The Analytics portal's rollups per hour and day, and conversions per day by campaign, server, list and offer."""
