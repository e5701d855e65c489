"""The words people read for the ledger's codes (verdicts and event kinds), Chinese first."""

from __future__ import annotations

VERDICTS = {
    "admitted": "放行",
    "blocked": "拦截（体温高）",
    "retry": "请重测",
    "fault": "测温失败",
    "sounding": "响铃",
    "silenced": "已静音",
    "unattended": "门卫不在岗",
    "accepted": "已接受",
    "held": "待审",
    "locked": "PIN 连续错误，暂停输入",
    "wrong": "PIN 输错后又输对",
}
KINDS = {
    "screening": "测温",
    "alarm": "报警",
    "sensor_fault": "测温设备故障",
    "sensor_recovered": "测温设备恢复",
    "identify": "出示通行码",
    "override": "门卫处理",
    "visitor": "访客登记",
    "vehicle": "车辆登记",
    "guard_pin": "门卫 PIN 错误",
}


# What a driver error means, for the ledger and the guard's health page (the driver's own English
# text is kept beside it as the technical detail).
SENSOR_ERRORS = {
    "BusMissingError": "找不到 I2C 总线（未启用 I2C 或总线号不对）",
    "BusPermissionError": "无权打开 I2C 总线（用户不在 i2c 组）",
    "SensorNotRespondingError": "测温探头无应答（未接好、地址不对或没电）",
    "SensorReadError": "测温探头读数无效（总线错误或校验失败）",
    "SensorFlaggedError": "测温探头报告内部错误",
}


def sensor_error_words(error: Exception) -> str:
    """Chinese words for a driver error, by its class (or the nearest one it derives from)."""
    for cls in type(error).__mro__:
        if cls.__name__ in SENSOR_ERRORS:
            return SENSOR_ERRORS[cls.__name__]
    return "测温探头故障"


def word(code: str | None) -> str:
    """``放行 admitted``: the Chinese word with the code beside it, for logs and tables."""
    if not code:
        return ""
    chinese = VERDICTS.get(code) or KINDS.get(code)
    return f"{chinese} {code}" if chinese else code
