"""Server-rendered charts: numbers become shapes that fit their box."""

from app.web.charts import two_way_bars


def test_gains_and_losses_share_one_scale_and_the_axis_sits_between_the_extremes():
    chart = two_way_bars([("d1", 30, 0), ("d2", 0, 10), ("d3", 15, 5)], width=300, height=120)
    assert chart.axis_y == 90  # 30 up and 10 down share 120 units: 90 above the axis, 30 below
    first, second, third = chart.bars
    assert (first.up_y, first.up_height, first.down_height) == (0, 90, 0)
    assert (second.up_height, second.down_height) == (0, 30)
    assert (third.up_y, third.up_height, third.down_height) == (45, 45, 15)
    assert [bar.x for bar in chart.bars] == [1, 101, 201] and first.width == 98


def test_a_chart_without_movement_draws_no_bars_on_a_bottom_axis():
    chart = two_way_bars([("d1", 0, 0), ("d2", 0, 0)], height=120)
    assert chart.axis_y == 120
    assert all(bar.up_height == 0 and bar.down_height == 0 for bar in chart.bars)
    assert two_way_bars([]).bars == []
