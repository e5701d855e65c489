"""The admin pages' errors as a page in Chinese that says what to do, never "Bad Request"."""

from __future__ import annotations

from typing import Any

from flask import render_template
from werkzeug.exceptions import HTTPException

# status: (title, what to do)
PAGES: dict[int, tuple[str, str]] = {
    400: ("填写有误", "请按提示修改后重新提交。"),
    401: ("需要登录", "请重新登录后再试。"),
    403: ("没有权限", "您的账户不能使用此页面或操作；如需要，请联系管理员；表单过期请刷新页面。"),
    404: ("找不到页面", "地址有误或记录已不存在：请从菜单重新进入。"),
    405: ("操作方式不对", "请从页面上的按钮操作，不要直接输入地址。"),
    409: ("页面已过期", "请点“返回上一页”并刷新：页面会换成当前小区的内容，再重新填写提交。"),
    413: ("文件太大", "请拆分成较小的文件后再上传。"),
    429: ("操作太频繁", "请稍等片刻再试。"),
    500: ("系统出错", "记录未丢失。请稍后再试；如仍出错，请联系维护人员。"),
}


def error_page(exc: HTTPException, user: Any) -> tuple[str, int]:
    code = exc.code or 500
    title, advice = PAGES.get(code, (f"出错了（{code}）", "请稍后再试。"))
    own = exc.description if exc.description != type(exc).description else None
    return (
        render_template("error.html", user=user, title=title, message=own or title, advice=advice),
        code,
    )
