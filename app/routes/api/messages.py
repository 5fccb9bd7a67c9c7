"""Transactional messages: send one or a batch, read one and its events, cancel a scheduled one."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []
