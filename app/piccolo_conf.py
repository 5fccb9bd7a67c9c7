"""Piccolo's engine and app registry; the pool itself is opened by the process that needs it."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={"dsn": os.environ.get("DATABASE_URL", "")}, log_queries=False)

APP_REGISTRY = AppRegistry(apps=["app.db.piccolo_app"])
