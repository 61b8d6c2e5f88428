"""The reporter's receipt: the page that reads the feedback with the code shown once, in
the answer to the report itself (webui/start.py). The code is the only link between a
reporter and an anonymous report, so it is never put in a cookie, a URL or a log line."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from engine.errors import NotFound

from .auth import engine

bp = Blueprint("receipts", __name__, url_prefix="/kvittering")


class ReceiptForm(FlaskForm):
    code = StringField("code", validators=[DataRequired(), Length(min=6, max=40)])


@bp.route("/", methods=["GET", "POST"])
@login_required
def lookup():
    form = ReceiptForm()
    found = None
    missing = False
    if request.method == "POST" and form.validate_on_submit():
        try:
            found = engine().history.receipt(form.code.data)
        except NotFound:
            missing = True
    return render_template("receipt.html", form=form, found=found, missing=missing), \
        404 if missing else 200
