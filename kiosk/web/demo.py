"""The demo control panel: drives the simulated sensor's scene. Registered only when the kiosk
runs with the simulated MLX90614, so it can never exist on a real gate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from drivers.mlx90614_sim import FAULTS, SimulatedMLX90614
from kiosk.web.forms import choice_field, json_body, number_field

demo = Blueprint("demo", __name__)

# What each simulated fault is, for the panel's buttons (Chinese first, the code after).
FAULT_WORDS = {
    "nack": "无应答（NACK）",
    "eio": "总线读写错误（EIO）",
    "bad_pec": "校验错误（PEC）",
    "error_flag": "芯片报错",
    "stuck": "读数冻结",
    "unplugged": "拔下探头",
}


def _simulator() -> SimulatedMLX90614:
    simulator = current_app.extensions["gate"].hardware.simulator
    assert simulator is not None  # the blueprint is only registered with one
    return simulator


@demo.get("/demo")
def panel() -> str:
    return render_template(
        "demo.html", faults=[(fault, FAULT_WORDS.get(fault, fault)) for fault in FAULTS]
    )


@demo.post("/api/sim/person")
def person() -> Any:
    core_c = number_field(json_body(), "core_c", minimum=20, maximum=45)
    _simulator().scene.person(core_c)
    return jsonify(ok=True, core_c=core_c)


@demo.post("/api/sim/leave")
def leave() -> Any:
    json_body()
    _simulator().scene.leave()
    return jsonify(ok=True)


@demo.post("/api/sim/fault")
def fault() -> Any:
    kind = choice_field(json_body(), "fault", FAULTS)
    _simulator().inject(kind)  # type: ignore[arg-type]
    return jsonify(ok=True, fault=kind)


@demo.post("/api/sim/clear")
def clear() -> Any:
    json_body()
    _simulator().clear_faults()
    return jsonify(ok=True)


@demo.post("/api/sim/ambient")
def ambient() -> Any:
    ambient_c = number_field(json_body(), "ambient_c", minimum=-20, maximum=45)
    _simulator().scene.set_ambient(ambient_c)
    return jsonify(ok=True, ambient_c=ambient_c)
