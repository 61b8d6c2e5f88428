"""Login with Flask-Login: passwords checked by the engine (argon2), or the hospital's
identity provider (webui/oidc.py); sessions that expire. Everything else only needs
`current_user`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.identity.users import MAX_FAILED_LOGINS, PAUSE
from engine.runtime import Engine

from . import oidc

bp = Blueprint("auth", __name__)
# besides the engine's auditors and process owners (its roles), management and the
# quality department of the demo organisation see the dashboard
INDICATOR_GROUPS = {"ledelse", "kvalitetsavdeling"}
INDICATOR_PREFIXES = ("kpu-", "leder-")
login_manager = LoginManager()


def engine() -> Engine:
    return current_app.extensions["tiltak_engine"]


@dataclass
class WebUser(UserMixin):
    name: str
    display_name: str
    language: str
    groups: set[str] = field(default_factory=set)
    session_epoch: int = 0

    def get_id(self) -> str:
        """What the session cookie holds: the user and the epoch the session began in
        (a session of an earlier epoch is refused: engine.identity.end_sessions)."""
        return f"{self.session_epoch}:{self.name}"

    @property
    def is_auditor(self) -> bool:
        return engine().roles.is_auditor(self.groups)

    @property
    def sees_indicators(self) -> bool:
        """Managers, quality committees, process owners and auditors see the dashboard."""
        return bool(self.groups & (INDICATOR_GROUPS | engine().roles.read_all)) or \
            any(g.startswith(INDICATOR_PREFIXES) for g in self.groups)

    @property
    def owns_processes(self) -> bool:
        """Process owners deploy new versions and follow where the cases stand."""
        return engine().roles.process_owners in self.groups

    @property
    def reads_all(self) -> bool:
        """Auditors and process owners read every case (and change none, for auditors)."""
        return bool(self.groups & engine().roles.read_all)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def load_user(session_id: str) -> WebUser | None:
    epoch, _, name = session_id.partition(":")
    user, groups = engine().identity.user_and_groups(name)
    if user is None or not user.active or str(user.session_epoch or 0) != epoch:
        return None
    return _web_user(user, groups)


def _web_user(user, groups: set[str]) -> WebUser:
    return WebUser(user.name, user.display_name or user.name, user.language or "nb", groups,
                   user.session_epoch or 0)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not oidc.local_login() and request.method == "POST":
        return redirect(url_for("auth.login"))  # passwords are switched off
    if form.validate_on_submit():
        user = engine().identity.authenticate(form.username.data.strip(), form.password.data)
        if user is not None:
            session.clear()
            session.permanent = True
            login_user(_web_user(user, engine().identity.groups(user.name)))
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong user name or password. After %(count)s failed attempts in a row, "
                "signing in is paused for %(minutes)s minutes.",
                count=MAX_FAILED_LOGINS, minutes=int(PAUSE.total_seconds() // 60)), "error")
    return render_template(
        "login.html", form=form, passwords=oidc.local_login(),
        provider=oidc.provider_name() if oidc.configured() else None,
        next=_safe_next(request.args.get("next"))), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout():
    engine().identity.end_sessions(current_user.name)  # a copy of the cookie is worth nothing now
    at_provider = oidc.logout_address()  # signed in there: signed out there too
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(at_provider or url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot send the user elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return url_for("tasks.worklist")


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
    oidc.init_app(app)

    @app.context_processor
    def user_context():
        return {"current_user": current_user}
