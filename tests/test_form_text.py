"""A form's text as the task page shows it: the little markdown Camunda Forms texts use."""

from webui.filters import simple_markdown


def test_bold_emphasis_and_headings_are_shown_and_nothing_else_is_markup():
    html = str(simple_markdown("## Meld\n\nLes svaret under *Kvittering*, **også** anonymt."
                               "\n\n2 * 3 * 4 <script>"))
    assert "<h3>Meld</h3>" in html
    assert "<em>Kvittering</em>" in html and "<strong>også</strong>" in html
    assert "*" not in html.split("2")[0]  # no literal asterisks left in the text
    assert "2 * 3 * 4 &lt;script&gt;" in html  # arithmetic stays, markup is escaped
