"""The Chinese word for every code the hub shows (one table): event kinds, results, reasons,
follow-up states and outcomes, roles, purposes, code colours. Pages print ``中文 english``;
registers and exports print the Chinese; filters accept the Chinese, the bilingual label or the
code."""

from __future__ import annotations

from typing import Any

LABELS: dict[str, str] = {
    # event kinds
    "screening": "测温",
    "override": "人工处置",
    "visitor": "访客",
    "vehicle": "车辆",
    "alarm": "报警",
    "identify": "验码",
    "sensor_fault": "设备故障",
    "sensor_recovered": "设备恢复",
    "shift": "上下岗",
    "disinfection": "消毒",
    "guard_pin": "门卫 PIN 错误",
    # results
    "admitted": "放行",
    "blocked": "拦截",
    "retry": "请重测",
    "fault": "测温故障",
    "accepted": "通行码有效",
    "refused": "通行码无效",
    "denied": "不放行",
    "held": "访客待审",
    "registered": "已登记",
    "sounding": "报警中",
    "silenced": "已消音",
    "unattended": "门卫不在岗",
    "hub_cleared": "中心解除等待",
    "in": "进",
    "out": "出",
    "on": "上岗",
    "off": "下岗",
    "done": "已完成",
    # screening reasons
    "fever": "体温异常",
    "too_cold": "读数过低",
    "too_hot": "读数过高",
    "unstable": "读数不稳",
    "still": "读数未更新",
    "left": "未测完离开",
    "sensor": "传感器故障",
    # sensor fault reasons (the driver's error, or what the liveness check saw)
    "BusMissingError": "I2C 总线不存在",
    "BusPermissionError": "无权访问 I2C 总线",
    "SensorNotRespondingError": "测温探头无应答",
    "SensorReadError": "测温探头读数错误",
    "SensorFlaggedError": "测温探头自报错误",
    "frozen": "读数冻结",
    "ambient_range": "环境温度超出范围",
    "ambient_jump": "环境温度突变",
    # staff sign-on reasons
    "fever_today": "当日上岗体温异常，不能上岗",
    # pass check reasons
    "ok": "有效",
    "format": "格式错误",
    "unknown": "未登记",
    "revoked": "已吊销",
    "expired": "已过期",
    # guards' reasons
    "remeasured_normal": "复测正常",
    "exertion_or_sun": "运动/日晒",
    "device_error": "设备误报",
    "emergency": "紧急情况",
    "fever_confirmed": "确认发热",
    "risk_area": "来自风险地区",
    "health_code": "健康码异常",
    "refused_measurement": "拒绝测温",
    "code_yellow": "黄码",
    "code_red": "红码",
    "other": "其他",
    # visitors
    "visit_family": "探亲访友",
    "delivery": "快递外卖",
    "repair": "维修",
    "housekeeping": "家政",
    "medical": "医护",
    "official": "公务",
    "green": "绿码",
    "yellow": "黄码",
    "red": "红码",
    "none": "无",
    # fever follow-up
    "acknowledged": "已确认",
    "reported": "已报社区卫生站",
    "closed": "已结案",
    "negative": "排除",
    "home_isolation": "居家隔离",
    "referred_to_hospital": "转诊医院",
    # the manager's decision on a staff member with visitors at home (duty page)
    "stay_on": "可继续值班",
    "relieve": "安排换岗",
    # residents and admins
    "owner": "业主",
    "tenant": "租户",
    "family": "家属",
    "staff": "工作人员",
    "admin": "管理员",
    "viewer": "查看",
    "health": "卫生站",
}
# A result whose word depends on the record's kind: a refused sign-on is not a refused pass.
KIND_LABELS: dict[tuple[str, str], str] = {
    ("shift", "blocked"): "体温异常，不能上岗",
    ("shift", "refused"): "拒绝上岗",
    ("guard_pin", "locked"): "连续输错，暂停输入",
    ("guard_pin", "wrong"): "输错后又输对",
}
ENGLISH: dict[str, str] = {
    "screening": "screening",
    "override": "guard decision",
    "sensor_fault": "sensor fault",
    "sensor_recovered": "sensor recovered",
    "fault": "sensor fault",
    "accepted": "pass valid",
    "refused": "pass refused",
    "fever": "fever",
    "risk_area": "risk area",
    "referred_to_hospital": "referred to hospital",
    "home_isolation": "home isolation",
    "stay_on": "may stay on duty",
    "relieve": "relieved by another",
    "remeasured_normal": "re-measured normal",
    "exertion_or_sun": "exertion or sun",
    "device_error": "device error",
    "fever_confirmed": "fever confirmed",
    "health_code": "health code",
    "refused_measurement": "refused measurement",
}


def zh(code: str | None, kind: str | None = None) -> str:
    """The Chinese word for a code (a result read with its record's ``kind`` where the word
    depends on it); an unknown code is shown as it is, never hidden."""
    if code is None or code == "":
        return ""
    if kind is not None and (kind, code) in KIND_LABELS:
        return KIND_LABELS[(kind, code)]
    return LABELS.get(code, code)


def bilingual(code: str | None) -> str:
    """``拦截 blocked``: the Chinese first, the English beside it on the bilingual pages."""
    if code is None or code == "":
        return ""
    if code not in LABELS:
        return code
    return f"{LABELS[code]} {ENGLISH.get(code, code.replace('_', ' '))}"


def code_for(text: str, allowed: tuple[str, ...] | None = None) -> str | None:
    """The code a person typed as a label (拦截), a bilingual label or the code itself; None if
    nothing matches (among ``allowed`` when given)."""
    wanted = text.strip()
    candidates = allowed if allowed is not None else tuple(LABELS)
    for code in candidates:
        if wanted.lower() in (code, bilingual(code).lower()) or wanted == LABELS.get(code):
            return code
    return None


# The settings a hub may send (sync.contract.HUB_SETTINGS): what the settings page calls each
# and the words for their values (a test keeps these in step with the declaration).
SETTING_NAMES: dict[str, str] = {
    "screening.threshold_c": "发热阈值（°C，高于即拦截）",
    "screening.site": "测温部位",
    "screening.forehead_offset_c": "额温补偿（°C，加到额头皮温上）",
    "screening.wrist_offset_c": "腕温补偿（°C，加到手腕皮温上）",
    "screening.model": "补偿方式",
    "screening.ambient_coeff": "环境温度系数（气温每低 1 °C 多加的 °C）",
    "kiosk.identify": "验码时机",
    "kiosk.identify_required": "必须出示通行码",
    "kiosk.retention_days": "门岗本机记录保留天数（已上传的）",
    "kiosk.store_temperatures": "台账保存体温读数",
}
SETTING_CHOICES: dict[tuple[str, str], str] = {
    ("screening.site", "forehead"): "额头",
    ("screening.site", "wrist"): "手腕",
    ("screening.model", "offset"): "固定补偿",
    ("screening.model", "ambient"): "随气温补偿",
    ("kiosk.identify", "before"): "先验码后测温",
    ("kiosk.identify", "after"): "先测温后验码",
    ("kiosk.identify", "off"): "不验码，只测温",
}


def setting_name(key: str) -> str:
    return SETTING_NAMES.get(key, key)


def setting_value(key: str, value: Any) -> str:
    """``额头 forehead``, ``是 true``, ``37.2``: a setting's value as the settings page shows it."""
    if isinstance(value, bool):
        return "是 true" if value else "否 false"
    if (key, value) in SETTING_CHOICES:
        return f"{SETTING_CHOICES[(key, value)]} {value}"
    return str(value)


def setting_code(key: str, typed: str) -> str:
    """What an admin typed for a setting, with a Chinese word (额头, 是) turned into its value."""
    wanted = typed.strip()
    for (setting, code), word in SETTING_CHOICES.items():
        if setting == key and wanted in (word, f"{word} {code}"):
            return code
    yes_no = {"是": "true", "是 true": "true", "否": "false", "否 false": "false"}
    return yes_no.get(wanted, wanted)


def setting_allowed(key: str) -> str:
    """What a setting may be set to, in words: ``额头 / 手腕``, ``37 至 38.5``."""
    from sync.contract import HUB_SETTINGS

    setting = HUB_SETTINGS[key]
    if setting.choices:
        return " / ".join(setting_value(key, choice) for choice in setting.choices)
    if setting.kind is bool:
        return "是 / 否"
    if setting.minimum is not None and setting.maximum is not None:
        whole = " 的整数" if setting.kind is int else ""
        return f"{setting.minimum:g} 至 {setting.maximum:g}{whole}"
    return "文字"
