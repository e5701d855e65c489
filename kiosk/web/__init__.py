"""The touchscreen: a Flask app served by waitress on 127.0.0.1."""

from kiosk.web.app import create_app

__all__ = ["create_app"]
