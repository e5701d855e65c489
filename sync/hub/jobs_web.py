"""The pages of the background jobs (sync/hub/jobs.py): start one, watch its progress, fetch
its file. Issuing passes and the pass PDF are started from the residents page, the ledger's
XLSX from the ledger page; each answers at once with the job's page, which polls
``/admin/jobs/<id>.json`` (job.js) and shows the download link when the file is made."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Response, current_app, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from sync.hub import audit_words, jobs, ledger_view, pass_pdf, residents
from sync.hub.admin_web import EVERYONE, _store, admin, compound_name, hub_zone, roles
from sync.hub.admins import audit
from sync.hub.store import HubStore
from sync.localtime import DEFAULT_ZONE, format_local

FILE_TYPES = {
    "passes.pdf": ("application/pdf", "passes", "pdf"),
    "ledger.xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "menwei-ledger",
        "xlsx",
    ),
}


def runner() -> jobs.JobRunner:
    return current_app.extensions["hub_jobs"]


def _start(user: dict[str, str], kind: str, params: dict[str, Any], work: jobs.Work) -> Any:
    try:
        job_id = runner().start(_store(), kind, user["username"], params, work)
    except jobs.JobBusy as exc:
        raise Conflict(str(exc)) from None
    return redirect(url_for("admin.job_page", job_id=job_id))


def _job(user: dict[str, str], job_id: str) -> jobs.Job:
    """The job, if it is of the page's compound and the account's role may see its kind;
    otherwise 404, as for an id that does not exist."""
    job = runner().get(_store(), job_id[:64])
    if job is None or user["role"] not in jobs.KIND_ROLES.get(job.kind, ()):
        raise NotFound("没有这项工作（可能属于其他小区，或已被清理）：请回到原页面重新开始")
    return job


def job_view(user: dict[str, str], job: jobs.Job) -> dict[str, Any]:
    """What the page and its JSON show: words, local times, the download when it is there."""
    tz = hub_zone()
    mine = job.started_by == user["username"]
    file = runner().result_path(job) if job.state == "done" else None
    if job.state == "done":
        line = job.message or "已完成"
    elif job.state == "running":
        if job.total is None:
            line = "正在准备…"
        elif job.done >= job.total and job.kind != "passes.issue":
            line = f"已处理 {job.done} / {job.total}，正在生成文件…"
        else:
            line = f"已完成 {job.done} / {job.total}（{job.percent}%）"
    else:
        line = job.message or job.state_words
    gone = job.state == "done" and job.kind in FILE_TYPES and file is None
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "kind_words": job.kind_words,
        "state": job.state,
        "state_words": job.state_words,
        "finished": job.finished,
        "done": job.done,
        "total": job.total,
        "percent": job.percent,
        "line": line,
        "started_at": format_local(job.started_at, tz),
        "started_by": job.started_by,
        "finished_at": format_local(job.finished_at, tz) if job.finished_at else "",
        "choice": _choice_words(job),
        "download": url_for("admin.job_file", job_id=job.job_id) if file and mine else None,
        "download_note": (
            "文件已不在（只保留本类最新一份，最多 24 小时；中心重启后清空）：请重新生成"
            if gone
            else ("文件只供发起人下载" if file and not mine else "")
        ),
    }


def _choice_words(job: jobs.Job) -> str:
    if job.kind == "passes.pdf":
        return residents.PassSelection.from_dict(job.params).words()
    if job.kind == "passes.issue":
        return f"有效 {job.params.get('days', '')} 天"
    if job.kind == "ledger.xlsx":
        return audit_words.detail_words(job.params, hub_zone()) or "全部记录"
    return ""


@admin.get("/jobs/<job_id>")
@roles(*EVERYONE)
def job_page(user: dict[str, str], job_id: str) -> str:
    job = _job(user, job_id)
    return render_template("job.html", user=user, job=job_view(user, job))


@admin.get("/jobs/<job_id>.json")
@roles(*EVERYONE)
def job_status(user: dict[str, str], job_id: str) -> Any:
    response = current_app.json.response(job_view(user, _job(user, job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@admin.get("/jobs/<job_id>/file")
@roles(*EVERYONE)
def job_file(user: dict[str, str], job_id: str) -> Response:
    """The job's file, for the account that started it only (what it holds is what that
    account chose and may see; its making is in the audit log)."""
    job = _job(user, job_id)
    path = runner().result_path(job) if job.state == "done" else None
    if job.started_by != user["username"] or job.kind not in FILE_TYPES:
        raise NotFound("没有这项工作的文件：文件只供发起人下载")
    if path is None:
        raise NotFound("文件已不在（只保留本类最新一份，最多 24 小时；中心重启后清空）：请重新生成")
    mimetype, stem, ext = FILE_TYPES[job.kind]
    stamp = format_local(job.finished_at or datetime.now(UTC), hub_zone(), "%Y%m%d-%H%M%S")
    response = send_file(
        path,
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"{stem}-{stamp}.{ext}",
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the jobs' work --------------------------------------------------------------------------


@admin.post("/passes/issue")
@roles("admin")
def passes_issue(user: dict[str, str]) -> Any:
    days = request.form.get("days", "180")
    if not days.isdigit() or not 1 <= int(days) <= 730:
        raise BadRequest("有效天数须在 1 到 730 之间：请改正后再发放")
    username = user["username"]

    def work(store: HubStore, progress: jobs.Progress) -> tuple[int, str]:
        issued = residents.issue_passes(store, username, days=int(days), progress=progress)
        if issued == 0:
            return 0, "所有住户都已有有效通行证，这次没有发放"
        return issued, f"已为 {issued} 位住户发放通行证，各门岗下次同步后生效"

    return _start(user, "passes.issue", {"days": int(days)}, work)


@admin.post("/passes/sheet.pdf")
@roles("admin")
def passes_sheet_pdf(user: dict[str, str]) -> Any:
    try:
        selection = residents.PassSelection.from_form(request.form)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    try:
        pass_pdf.cjk_font()
    except pass_pdf.PassPdfError as exc:
        raise BadRequest(str(exc)) from None
    username, name, tz = user["username"], compound_name(), hub_zone()

    def work(store: HubStore, progress: jobs.Progress) -> tuple[int, str]:
        cards = residents.pass_cards(store, selection, tz)
        progress.set_total(len(cards))
        if not cards:
            raise jobs.JobFailed(f"没有符合条件（{selection.words()}）的有效通行证：请换个选择")
        pdf = pass_pdf.pass_sheet_pdf(cards, name, progress=lambda n: progress.advance())
        Path(progress.file).write_bytes(pdf)
        with store.transaction():
            audit(store, username, "passes.print_pdf", {"cards": len(cards), **selection.as_dict()})
        pages = -(-len(cards) // (pass_pdf.COLUMNS * pass_pdf.ROWS))
        return len(cards), f"共 {len(cards)} 张通行证，{pages} 页（{selection.words()}）"

    return _start(user, "passes.pdf", selection.as_dict(), work)


@admin.post("/ledger/export.xlsx")
@roles(*EVERYONE)
def export_job(user: dict[str, str]) -> Any:
    """The ledger's XLSX, made in the background: the page shows its progress at once and a
    link to the file when it is made (a ZIP's directory comes last, so it cannot stream)."""
    filters = _filters_of_form()
    store = _store()
    with store.transaction():
        audit(store, user["username"], "export.xlsx", filters.as_dict())
    fever_only, tz = user["role"] == "health", hub_zone()
    title = ledger_view.export_title(
        filters, compound_name(), current_app.config.get("HUB_TIMEZONE", DEFAULT_ZONE)
    )

    def work(store: HubStore, progress: jobs.Progress) -> tuple[int, str]:
        rows = ledger_view.xlsx_file(
            store,
            filters,
            Path(progress.file),
            fever_only=fever_only,
            tz=tz,
            title=title,
            progress=progress,
        )
        return rows, f"共 {rows} 条记录"

    return _start(user, "ledger.xlsx", filters.as_dict(), work)


def _filters_of_form() -> ledger_view.Filters:
    try:
        return ledger_view.Filters.from_args(request.form)
    except ledger_view.FilterError as exc:
        raise BadRequest(str(exc)) from None
