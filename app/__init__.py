"""Ignite: self-hosted email marketing for affiliate and performance marketers."""

import os

# Piccolo finds its engine and apps through this module.
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")
