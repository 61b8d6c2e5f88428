"""The worklist and the task page: claim, unclaim, fill in the form, attach documents."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import limits
from engine.errors import Conflict, InvalidInput, TaskNotOpen
from engine.queries.worklist import DUE_FILTERS, SCOPES, SORTS, WorklistQuery
from forms.errors import FormResolutionError
from forms.model import flatten

from .auth import engine
from .case_data import use_case
from .form_input import from_post
from .forms_view import form_view, task_form
from .messages import problems, said
from .review_figures import prefill

bp = Blueprint("tasks", __name__)
PER_PAGE = 25


@bp.get("/")
@login_required
def worklist():
    args = request.args
    query = WorklistQuery(
        actor=current_user.name,
        scope=args.get("scope") if args.get("scope") in SCOPES else "all",
        process_key=args.get("process") or None, clinic=args.get("clinic") or None,
        text=(args.get("q") or "").strip()[:100] or None,
        due=args.get("due") if args.get("due") in DUE_FILTERS else None,
        sort=args.get("sort") if args.get("sort") in SORTS else "due",
        page=_page(args.get("page")), per_page=PER_PAGE, groups=current_user.groups)
    page = engine().tasks.worklist(query)
    now = engine().clock.now()
    titles = engine().history.case_titles([t.instance_id for t in page.tasks])
    suspended = engine().suspension.suspended_among([t.instance_id for t in page.tasks])
    return render_template("worklist.html", page=page, query=query, now=now, titles=titles,
                           suspended=suspended,
                           soon=now + timedelta(days=3),
                           clinics=engine().context_variables().get("alle_klinikker", []))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    try:
        task = engine().tasks.claim(task_id, actor=current_user.name)
        flash(_("You took the task “%(name)s”.", name=task.name), "info")
    except Conflict as err:
        flash(said(err), "error")
        return redirect(url_for("tasks.worklist"))
    return redirect(url_for("tasks.task_page", task_id=task_id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    task = engine().tasks.unclaim(task_id, actor=current_user.name)
    flash(_("You gave back the task “%(name)s”.", name=task.name), "info")
    return redirect(url_for("tasks.worklist"))


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task_page(task_id: str):
    try:
        task = engine().tasks.open_task(task_id, actor=current_user.name)
    except TaskNotOpen as err:
        flash(said(err), "warning")
        return redirect(url_for("tasks.worklist"))
    context = engine().tasks.task_context(task)
    errors: dict[str, str] = {}
    data: dict[str, Any] = context
    form_of_task = cache(lambda: task_form(engine(), task))  # resolved once per request
    if request.method == "POST" and not task.assignee:
        # as in Camunda's Tasklist, a task is completed by the one who has claimed it
        flash(_("Claim the task before you complete it: then nobody else works on it "
                "at the same time."), "error")
        data = overlay(context, from_post(_fields_or_none(form_of_task), request.form))
        errors = {"": _("The task is not claimed yet.")}
    elif request.method == "POST":
        try:
            form = form_of_task()
        except ValueError as err:
            abort(400, str(err))
        submitted = from_post(form.fields, request.form) if form else {}
        try:
            instance = engine().tasks.complete(task_id, actor=current_user.name, data=submitted)
        except TaskNotOpen as err:
            flash(said(err), "warning")
            return redirect(url_for("tasks.worklist"))
        except InvalidInput as err:
            errors = problems(err)
            data = overlay(context, submitted)
        except Conflict as err:
            flash(said(err), "error")
            data = overlay(context, submitted)
        else:
            flash(_("Done: “%(name)s”.", name=task.name), "success")
            if instance.status == "completed":
                flash(_("The case is closed."), "success")
            return redirect(url_for("tasks.worklist"))
    else:
        data = _with_figures(task, context, form_of_task)
    view = form_view(form_of_task, context, data, errors)
    use_case(task.instance_id, [task.definition_id])
    own = {inner.name for outer in (view.form.fields if view.form else [])
           for inner in flatten(outer)}
    return render_template("task.html", task=task, view=view, data=context, skip=own,
                           title=engine().history.case_titles([task.instance_id]).get(task.instance_id),
                           attachments=engine().history.attachments(task.instance_id),
                           suspended=bool(engine().suspension.suspended_among([task.instance_id])),
                           documentation=(task.form or {}).get("documentation")), \
        (409 if "" in errors else 422) if errors else 200


def _fields_or_none(form_of_task) -> list:
    try:
        form = form_of_task()
    except (ValueError, FormResolutionError):
        return []
    return form.fields if form else []



@bp.post("/tasks/<task_id>/attachments")
@login_required
def upload(task_id: str):
    task = engine().tasks.open_task(task_id, actor=current_user.name)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file first."), "error")
    else:
        try:
            stored = engine().runtime.attach(task.instance_id, actor=current_user.name,
                                             filename=upload.filename, content=upload.read(),
                                             task_id=task.id,
                                             field=request.form.get("kind") or None)
            flash(_("Attached “%(name)s”.", name=stored.filename), "success")
        except InvalidInput as err:
            flash(said(err), "error")
    return redirect(url_for("tasks.task_page", task_id=task_id))


def _with_figures(task, context: dict[str, Any], form_of_task) -> dict[str, Any]:
    """Fields the form asks to have filled in from the indicators (webui/review_figures)."""
    try:
        form = form_of_task()
        if form is None:
            return context
        data, filled = prefill(engine(), task.id, form.fields, context)
    except FormResolutionError:  # the page shows the form's own problem
        return context
    except ValueError as err:  # a bad `indikator` or `periode` property in the form
        flash(_("The figures could not be filled in: %(reason)s", reason=str(err)), "warning")
        return context
    if filled is not None:
        flash(_("Filled in from the indicators for %(start)s to %(end)s: check the figures "
                "before you send.", start=filled.start.date().isoformat(),
                end=filled.end.date().isoformat()), "info")
    return data


def overlay(context: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    """What the user typed over what the case holds, row by row for repeating lists."""
    result = dict(context)
    for key, value in submitted.items():
        before = context.get(key)
        if isinstance(value, list) and isinstance(before, list) and \
                all(isinstance(v, dict) for v in value):
            result[key] = [overlay(before[i] if i < len(before) and isinstance(before[i], dict)
                                   else {}, row) for i, row in enumerate(value)]
        elif isinstance(value, dict) and isinstance(before, dict):
            result[key] = overlay(before, value)
        else:
            result[key] = value
    return result


def _page(text: str | None) -> int:
    try:
        return limits.page_in_range(int(text or 1))
    except ValueError:
        return 1
