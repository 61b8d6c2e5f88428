"""In-app notifications (reminders, escalations) and incident handling on a case."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import PermissionDenied

from .auth import engine

bp = Blueprint("notices", __name__)


@bp.get("/notifications")
@login_required
def notifications():
    notes = engine().identity.notifications(current_user.name)
    engine().identity.mark_read(current_user.name)
    return render_template("notifications.html", notes=notes)


@bp.post("/instances/<instance_id>/retry")
@login_required
def retry(instance_id: str):
    if not engine().roles.may_retry(current_user.name, current_user.groups):
        raise PermissionDenied(_("Only process owners may retry a failed case.")).coded(
            "may_not_retry", case=instance_id)
    engine().runtime.retry(instance_id, actor=current_user.name)
    flash(_("The case will be tried again."), "success")
    return redirect(url_for("instances.show", instance_id=instance_id))


def init_app(app) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def unread():
        if not current_user.is_authenticated:
            return {}
        return {"unread_count": len(engine().identity.notifications(current_user.name,
                                                                    unread_only=True, limit=99))}
