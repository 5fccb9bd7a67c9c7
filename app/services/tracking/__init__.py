"""Tracking of opens and clicks: signed delivery tokens, the public endpoints' hot path, the aggregator.

The pieces, in the order an event meets them: `tokens` (one signed token per delivery, checked without
I/O), `urls` (the renderer's link rewriter and open pixel that put it in every tracked URL),
`link_tables` (where a click on link N of a campaign version leads), `events` (the hot path's pipelined
append to a Redis stream), `aggregator` (the stream into `events` and the figures, exactly once),
`partitions` (the monthly partitions of `events`, made ahead of time).
"""
