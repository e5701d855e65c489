"""Menwei sync: what crosses the network between a kiosk and the hub.

``contract`` (the record, the roster's rules, the settings a hub may send), ``passwords``,
``protocol`` (the wire), ``outbox`` and ``client`` (the kiosk's side, talking to an outbox the
kiosk's ledger implements), ``hub`` (the central server) and ``ops`` (logging, tables, ports and
systemd helpers both commands use). Nothing here imports ``kiosk``.
"""
