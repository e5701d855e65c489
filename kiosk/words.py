"""The words people read for the ledger's codes (verdicts and event kinds), Chinese first."""

from __future__ import annotations

VERDICTS = {
    "admitted": "放行",
    "blocked": "拦截（体温高）",
    "retry": "请重测",
    "fault": "测温失败",
    "sounding": "响铃",
    "silenced": "已静音",
    "accepted": "已接受",
    "held": "待审",
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
}


def word(code: str | None) -> str:
    """``放行 admitted``: the Chinese word with the code beside it, for logs and tables."""
    if not code:
        return ""
    chinese = VERDICTS.get(code) or KINDS.get(code)
    return f"{chinese} {code}" if chinese else code
