"""The page evaluates form conditions with feelin, and gives the server's answers.

Every row of tests/fixtures/feel-cases.json goes through the task form page's own
`evaluateCondition` (webui/static/conditions.js, which app.js hides fields with),
loaded from this host through the import map, as a caseworker's browser loads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_feel import same

CASES = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "feel-cases.json")
                   .read_text("utf-8"))
EVALUATE = """async (rows) => {
  const { evaluateCondition } = await import("/static/conditions.js");
  return rows.map((row) => {
    try { return { value: evaluateCondition("=" + row.expression, row.variables) }; }
    catch (error) { return { error: String(error) }; }
  });
}"""


def test_the_page_answers_every_shared_case_as_the_server_does(browser, live):
    page = browser.new_page(base_url=live[0])
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.goto("/login")
    answers = page.evaluate(EVALUATE, CASES["cases"])
    wrong = [(case["expression"], case["result"], answer)
             for case, answer in zip(CASES["cases"], answers, strict=True)
             if "error" in answer or not same(answer["value"], case["result"])]
    assert wrong == []
    differences = page.evaluate(EVALUATE, CASES["differences"])
    assert [a.get("value", a) for a in differences] == [c["feelin"] for c in
                                                       CASES["differences"]]
    assert problems == []  # the modules load, and the policy allows the import map
    page.close()
