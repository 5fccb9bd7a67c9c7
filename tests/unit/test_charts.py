"""Server-rendered charts: numbers become shapes that fit their box."""

from app.web.charts import heat_cells, line_chart, two_way_bars


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


def test_lines_share_a_scale_that_includes_zero_with_the_extremes_and_zero_written_beside_the_axis():
    chart = line_chart(["d1", "d2", "d3", "d4", "d5"],
                       [("Revenue", [0, 10, 20, 30, 40]), ("Profit", [-40, 0, 5, 10, 20])], width=400, height=100)

    assert (chart.low, chart.high) == (-40, 40)
    assert chart.lines[0].points.split() == ["0.0,50.0", "100.0,37.5", "200.0,25.0", "300.0,12.5", "400.0,0.0"]
    assert [value for _, value in chart.ticks] == [40, 0, -40] and chart.zero_y == 50
    assert chart.marks == [(0.0, "d1"), (200.0, "d3"), (400.0, "d5")]
    assert [(line.name, line.last) for line in chart.lines] == [("Revenue", 40), ("Profit", 20)]


def test_a_tick_too_close_to_another_is_left_out_and_a_flat_chart_is_empty():
    close = line_chart(["a", "b"], [("Cost", [-1, 100])], height=100)
    assert [value for _, value in close.ticks] == [100, 0]
    assert line_chart(["a", "b"], [("Sent", [0, 0])]).empty and line_chart([], []).empty


def test_heat_cells_shade_relative_to_the_busiest_cell_and_leave_empty_cells_unshaded():
    cells = heat_cells([[0, 1], [2, 8]])
    assert [(cell.row, cell.column, cell.level) for cell in cells] == [(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 4)]
