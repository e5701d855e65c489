"""The audit log as a manager reads it: words for the actions and their details, local times.

The log stores codes (``export.csv``, ``{"kiosk": …}``) so that it can be searched and kept
stable; the page turns them into 导出台账（CSV）and 门岗：east-gate. A code without a word is
shown as it is, never hidden.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from sync.hub import labels
from sync.hub.registers import TITLES as REGISTER_TITLES
from sync.localtime import format_local

ACTIONS: dict[str, str] = {
    "account.set": "设置管理账户",
    "account.enable": "启用管理账户",
    "account.disable": "停用管理账户",
    "disinfection.log": "登记消毒",
    "duty.add": "排班",
    "duty.remove": "删除排班",
    "duty.clear_fever": "解除员工上岗体温异常",
    "gate.clear_block": "中心解除门岗发热拦截等待",
    "duty.household": "处理上岗人员家中有外来人员",
    "hub_setting.set": "值班与消毒设置",
    "events.columns_differed": "升级时发现记录的显示列与记录不符（以记录为准）",
    "export.csv": "导出台账（CSV）",
    "export.xlsx": "导出台账（XLSX）",
    "guard.set": "设置门卫",
    "guard.remove": "删除门卫",
    "kiosk.enrol_code": "生成门岗登记码",
    "kiosk.revoke": "吊销门岗",
    "passes.issue": "发放通行码",
    "passes.print": "打印通行码",
    "passes.print_pdf": "打印通行码（PDF）",
    "passes.revoke": "吊销通行码",
    "phone.reveal": "查看完整电话",
    "place.set": "设置消毒场所",
    "place.remove": "删除消毒场所",
    "quarantine.add": "登记居家隔离",
    "reader.read": "外部系统读取台账",
    "reader.revoke": "吊销读取令牌",
    "reader.token": "生成读取令牌",
    "registers.csv": "导出登记表（CSV）",
    "registers.xlsx": "导出登记表（XLSX）",
    "registers.pdf": "打印登记表（PDF）",
    "resident.lookup_by_id": "按身份证号查找住户",
    "resident.lookup_by_id_throttled": "按身份证号查找过于频繁，已限速",
    "visitor.lookup_by_id": "按身份证号查找访客",
    "residents.import": "导入住户",
    "retention.purge": "按保存期限清理",
    "risk_area.add": "添加风险地区",
    "risk_area.remove": "删除风险地区",
    "seal.verify": "核验封签",
    "setting.set": "修改设置",
    "setting.remove": "恢复默认设置",
    "sign_in.ok": "登录",
    "supply.set": "设置物资",
    "supply.receipt": "物资入库",
    "supply.issue": "物资领用",
    "district.csv": "导出街道/社区日报（CSV）",
}
PREFIXES: dict[str, str] = {
    "sign_in.": "登录失败",
    "fever.": "发热处置",
}
KEYS: dict[str, str] = {
    "kiosk": "门岗",
    "kiosk_id": "门岗",
    "gate": "门岗",
    "day": "日期",
    "register": "登记表",
    "ok": "相符",
    "person": "人员",
    "guard_id": "人员编号",
    "starts_at": "开始",
    "ends_at": "结束",
    "item": "物品",
    "keeper": "负责人",
    "reserve_days": "储备天数",
    "margin_pct": "余量 %",
    "event_id": "记录",
    "signed_on_at": "上岗测温时间",
    "duty.grace_min": "漏岗宽限（分钟）",
    "disinfection.day_start_h": "消毒应做时段开始（时）",
    "disinfection.day_end_h": "消毒应做时段结束（时）",
    "outcome": "结果",
    "note": "备注",
    "username": "账户",
    "role": "角色",
    "compounds": "小区",
    "district": "街道/社区",
    "gates": "门岗",
    # what a retention run removed
    "cutoff": "清理截止",
    "events": "记录",
    "audit": "审计条目",
    "audit_days": "审计保留天数",
    "quarantine": "被拒记录",
    "quarantine_register": "居家隔离登记",
    "roster_history": "旧名单",
    "source": "来源",
    "key": "项目",
    "name": "名称",
    "count": "条数",
    "records": "记录",
    "since": "起始序号",
    "resident_id": "住户",
    "ends_on": "截止日期",
    "place": "场所",
    "agent": "消毒剂",
    "by": "消毒人",
    "quantity": "数量",
    "value": "值",
    "days": "天数",
    "day_from": "起始日期",
    "day_to": "截止日期",
    "kind": "类别",
    "verdict": "结果",
    "text": "查找",
    # passes issued and printed (background jobs)
    "issued": "发放张数",
    "wanted": "应发张数",
    "expires_on": "有效期至",
    "cards": "张数",
    "building": "楼栋",
    "unit": "单元",
    "issued_since": "发证日期自",
}
# Details whose values are codes with a word of their own (a username is never translated).
CODED_KEYS = frozenset({"outcome", "verdict", "kind", "role"})
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def action_words(code: str) -> str:
    if code in ACTIONS:
        return ACTIONS[code]
    for prefix, words in PREFIXES.items():
        if code.startswith(prefix):
            rest = code[len(prefix) :]
            return f"{words}（{labels.zh(rest) or rest}）"
    return code


def _value(key: str, value: Any, tz: tzinfo) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and ISO_TIME.match(value):
        return format_local(value, tz)
    if isinstance(value, list):
        return "、".join(_value(key, v, tz) for v in value)
    if key == "register" and isinstance(value, str):
        return "全部登记表" if value == "all" else REGISTER_TITLES.get(value, value)
    if isinstance(value, str) and key in CODED_KEYS:
        return labels.zh(value)
    return str(value)


def detail_words(detail: Any, tz: tzinfo) -> str:
    """``门岗：east-gate；日期：2026-11-29``; empty values left out."""
    if not isinstance(detail, dict):
        return str(detail)
    parts = [
        f"{KEYS.get(key, key)}：{_value(key, value, tz)}"
        for key, value in detail.items()
        if value not in (None, "", [])
    ]
    return "；".join(parts)
