"""What the ``kiosk`` and ``hub`` commands both need to run as services: logging to journald or a
terminal, tables for the terminal, a port that is taken, systemd's notify and watchdog."""
