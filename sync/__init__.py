"""Menwei sync: the kiosk's client and the central hub (arrives with the sync issue)."""
