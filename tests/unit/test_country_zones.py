"""A subscriber's country names the zone where most of that country's people live."""

import pytest

from app.services.campaigns.send_times import country_zones


@pytest.mark.parametrize(("country", "zone"), [
    ("BR", "America/Sao_Paulo"), ("BRAZIL", "America/Sao_Paulo"), ("RU", "Europe/Moscow"),
    ("CA", "America/Toronto"), ("MX", "America/Mexico_City"), ("US", "America/New_York"),
    ("DE", "Europe/Berlin"), ("IN", "Asia/Kolkata"),
])
def test_a_country_spanning_zones_gets_the_zone_of_most_of_its_people(country: str, zone: str) -> None:
    assert country_zones()[country] == zone
