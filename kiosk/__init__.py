"""Menwei kiosk: the screening session, the touchscreen, the guard's actions and the ledger."""
