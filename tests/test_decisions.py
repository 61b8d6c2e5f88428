"""Decision tables as Camunda Modeler writes them (DMN 1.3), evaluated as FEEL.

The cells are unary tests and expressions read by our own parser (never Python, never
`eval`); columns convert values by their `typeRef`; the hit policy decides what several
matching rules give; the business rule task stores the result as `camunda:resultVariable`
and `camunda:mapDecisionResult` say. A cell that does not parse is refused when the file
is deployed, naming the file and the decision. The real risk matrix of the deviation
routine (`processes/risikoklasse.dmn`) runs through the engine on both databases.
"""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from engine.errors import DefinitionError, ExecutionError
from engine.model import decisions
from engine.model.decisions import DecisionError, convert, evaluate_expression, matches
from engine.model.parsing import TiltakParser, parse_bpmn
from engine.model.xml import parse_xml

from walks import PROCESSES

DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def dmn(decision_id: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
        rules: list[tuple[list[str], list[str]]], hit_policy: str | None = None,
        aggregation: str | None = None) -> bytes:
    """A DMN 1.3 file as Camunda Modeler saves it: (expression, typeRef) per input,
    (name, typeRef) per output, (input cells, output cells) per rule."""
    policy = f' hitPolicy="{hit_policy}"' if hit_policy else ""
    policy += f' aggregation="{aggregation}"' if aggregation else ""
    columns = "".join(
        f'<input id="Input_{i}" label="{expr}"><inputExpression id="InputExpression_{i}" '
        f'typeRef="{type_ref}"><text>{escape(expr)}</text></inputExpression></input>'
        for i, (expr, type_ref) in enumerate(inputs))
    columns += "".join(f'<output id="Output_{i}" label="{name}" name="{name}" '
                       f'typeRef="{type_ref}" />' for i, (name, type_ref) in enumerate(outputs))
    body = ""
    for r, (cells, results) in enumerate(rules):
        body += f'<rule id="DecisionRule_{r}">'
        body += "".join(f'<inputEntry id="UnaryTests_{r}_{i}"><text>{escape(c)}</text>'
                        f'</inputEntry>' for i, c in enumerate(cells))
        body += "".join(f'<outputEntry id="LiteralExpression_{r}_{i}"><text>{escape(c)}'
                        f'</text></outputEntry>' for i, c in enumerate(results))
        body += "</rule>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{DMN_NS}" '
            'xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" '
            'xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" id="Definitions_test" '
            'name="Test" namespace="http://camunda.org/schema/1.0/dmn" '
            'exporter="Camunda Modeler" exporterVersion="5.22.0">'
            f'<decision id="{decision_id}" name="{decision_id}">'
            f'<decisionTable id="DecisionTable_{decision_id}"{policy}>{columns}{body}'
            '</decisionTable></decision><dmndi:DMNDI><dmndi:DMNDiagram id="DMNDiagram_1">'
            f'<dmndi:DMNShape id="DMNShape_1" dmnElementRef="{decision_id}">'
            '<dc:Bounds height="80" width="180" x="160" y="100" /></dmndi:DMNShape>'
            '</dmndi:DMNDiagram></dmndi:DMNDI></definitions>').encode()


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table_of(data: bytes, name: str = "test.dmn"):
    """The decision table of a DMN file, as the engine's parser reads it."""
    parser = TiltakParser()
    parser.add_dmn_xml(parse_xml(data, name).getroot(), filename=name)
    [found] = parser.dmn_parsers.values()
    found.parse()
    table = found.decision.decisionTables[0]
    decisions.check(table)
    return table


def bpmn(tasks: list[dict[str, str]], process_id: str = "beslutning",
         fields: tuple[str, ...] = ()) -> bytes:
    """A start event with a text field per name in `fields`, one business rule task per
    entry (attributes: id, decisionRef and the camunda:resultVariable and
    camunda:mapDecisionResult given), an end event."""
    form = "".join(f'<camunda:formField id="{f}" label="{f}" type="string" />' for f in fields)
    nodes, flows, previous = [], [], "Start_Beslutning"
    for n, task in enumerate(tasks):
        attrs = " ".join(f'camunda:{k}="{v}"' for k, v in task.items() if k != "id")
        nodes.append(f'<bpmn:businessRuleTask id="{task["id"]}" {attrs}>'
                     f'<bpmn:incoming>Flow_{n}</bpmn:incoming>'
                     f'<bpmn:outgoing>Flow_{n + 1}</bpmn:outgoing></bpmn:businessRuleTask>')
        flows.append(f'<bpmn:sequenceFlow id="Flow_{n}" sourceRef="{previous}" '
                     f'targetRef="{task["id"]}" />')
        previous = task["id"]
    flows.append(f'<bpmn:sequenceFlow id="Flow_{len(tasks)}" sourceRef="{previous}" '
                 'targetRef="End_Beslutning" />')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_beslutning" '
            'targetNamespace="http://bpmn.io/schema/bpmn">'
            f'<bpmn:process id="{process_id}" isExecutable="true" '
            'camunda:candidateStarterGroups="ansatt">'
            '<bpmn:startEvent id="Start_Beslutning"><bpmn:extensionElements>'
            f'<camunda:formData>{form}</camunda:formData></bpmn:extensionElements>'
            '<bpmn:outgoing>Flow_0</bpmn:outgoing></bpmn:startEvent>'
            f'{"".join(nodes)}<bpmn:endEvent id="End_Beslutning">'
            f'<bpmn:incoming>Flow_{len(tasks)}</bpmn:incoming></bpmn:endEvent>'
            f'{"".join(flows)}</bpmn:process></bpmn:definitions>').encode()


def run(engine, files: dict[str, bytes], data: dict, process_id: str = "beslutning") -> dict:
    """Deploy, start (the process runs straight through) and return its variables."""
    engine.repository.deploy(files, actor="per")
    row = engine.runtime.start(process_id, actor="per", data=data)
    shown = engine.history.show(row.id)
    assert shown["status"] == "completed"
    return shown["data"]


# ------------------------------------------------------------------ unary tests
@pytest.mark.parametrize(("cell", "value", "hit"), [
    ("", 7, True), ("-", None, True), ("3", 3, True), ("3", 4, False),
    ('"rød"', "rød", True), ('"rød", "gul"', "gul", True), ('"rød", "gul"', "grønn", False),
    ("< 3", 2, True), ("< 3", 3, False), ("<= 3", 3, True), ("> 3", 3, False),
    (">= 4", 4, True), ("!= 2", 3, True), ("1, 3", 3, True), ("1, 3", 2, False),
    ("not(1, 2)", 3, True), ("not(1, 2)", 2, False), ('not("rød")', "gul", True),
    ("true", True, True), ("false", True, False), ("true", "true", False),
    ("null", None, True), ("3", None, False), ("< 3", None, False), ("< 3", "2", False),
    ("? > 2 and ? < 5", 4, True), ("? > 2 and ? < 5", 5, False), ("-1", -1, True),
    ("grense", 4, True), ("< grense + 1", 4, True), ("grense * 2", 8, True),
])
def test_unary_tests(cell, value, hit):
    assert matches(cell, value, {"grense": 4}) is hit


@pytest.mark.parametrize(("cell", "inside", "outside"), [
    ("[1..3]", [1, 2, 3, 2.5], [0, 4, 3.01]),
    ("]1..3[", [1.5, 2], [1, 3]),
    ("(1..3)", [2], [1, 3]),
    ("[1..3)", [1, 2.99], [3]),
    ("(1..3]", [3], [1]),
    ("[lav..lav + 2]", [2, 4], [1, 5]),
    ('["a".."c"]', ["a", "b", "c"], ["d"]),
    ("[1..3], 7", [1, 7], [5]),
    ("not([1..3])", [0, 4], [2]),
])
def test_intervals_open_and_closed_at_either_end(cell, inside, outside):
    for value in inside:
        assert matches(cell, value, {"lav": 2}), f"{value} is in {cell}"
    for value in outside:
        assert not matches(cell, value, {"lav": 2}), f"{value} is not in {cell}"


@pytest.mark.parametrize("cell", ["[1..", "1..3]", "[1..3", "< ", ">= >= 2", "foo(1)",
                                  "1 2", "@", '"open', "not(1", "[1..2]]"])
def test_a_cell_that_is_not_feel_is_refused_with_its_text(cell):
    with pytest.raises(DecisionError) as err:
        matches(cell, 1, {})
    assert cell.strip() in str(err.value)


def test_expressions_in_input_columns_and_output_cells():
    variables = {"a": 3, "b": 4, "pasient": {"alder": 82}, "tekst": "x", "ja": True}
    assert evaluate_expression("a * b + 1", variables) == 13
    assert evaluate_expression("(a + b) / 2", variables) == 3.5
    assert evaluate_expression("-a", variables) == -3
    assert evaluate_expression("pasient.alder >= 80", variables) is True
    assert evaluate_expression("pasient.vekt", variables) is None
    assert evaluate_expression("a / 0", variables) is None  # FEEL: null, not a crash
    assert evaluate_expression("a + tekst", variables) is None
    assert evaluate_expression("ja and a > 5", variables) is False
    assert evaluate_expression("null and false", variables) is False  # three-valued
    assert evaluate_expression("null or true", variables) is True
    assert evaluate_expression("null and true", variables) is None
    assert evaluate_expression("not(ja)", variables) is False
    assert evaluate_expression('"grønn"', variables) == "grønn"
    with pytest.raises(DecisionError, match="no variable 'c'"):
        evaluate_expression("c + 1", variables)
    with pytest.raises(DecisionError, match="not supported"):
        evaluate_expression("date(a)", variables)
    with pytest.raises(DecisionError, match="empty"):
        evaluate_expression("  ", variables)


# ------------------------------------------------------------------ typeRef
@pytest.mark.parametrize(("value", "type_ref", "expected"), [
    ("3", "integer", 3), (" 3 ", "integer", 3), (3.0, "integer", 3), (3, "long", 3),
    ("2.5", "double", 2.5), (2, "double", 2.0), ("true", "boolean", True),
    ("False", "boolean", False), (True, "boolean", True), (3, "string", "3"),
    ("tekst", "string", "tekst"), (None, "integer", None), ("3", "", "3"),
    (date(2026, 1, 5), "date", date(2026, 1, 5)), ("3", "Integer", 3),
])
def test_values_are_converted_as_their_column_says(value, type_ref, expected):
    converted = convert(value, type_ref, "input 'x'")
    assert converted == expected and type(converted) is type(expected)


@pytest.mark.parametrize(("value", "type_ref"), [
    ("tre", "integer"), (2.5, "integer"), (True, "integer"), ("ja", "boolean"),
    (1, "boolean"), (False, "double"), ("x", "double")])
def test_a_value_that_does_not_fit_its_column_is_an_error_naming_the_column(value, type_ref):
    with pytest.raises(DecisionError) as err:
        convert(value, type_ref, "input 'Konsekvens'")
    assert "Konsekvens" in str(err.value) and type_ref in str(err.value)


# ------------------------------------------------------------------ hit policies
OVERLAPPING = [(["< 5"], ['"lav"']), (["[3..10]"], ['"middels"']), (["> 8"], ['"høy"'])]


def overlapping(policy: str | None, aggregation: str | None = None):
    return table_of(dmn("niva", [("tall", "integer")], [("niva", "string")], OVERLAPPING,
                        policy, aggregation))


def test_unique_gives_the_one_matching_rule_and_refuses_two():
    table = overlapping(None)  # UNIQUE: the Modeler writes no hitPolicy for it
    assert decisions.decide(table, {"tall": "1"}) == [{"niva": "lav"}]
    assert decisions.decide(table, {"tall": 11}) == [{"niva": "høy"}]
    with pytest.raises(DecisionError, match=r"rules 1, 2 all match.*UNIQUE"):
        decisions.decide(table, {"tall": 4})


def test_first_rule_order_collect_and_any():
    assert decisions.decide(overlapping("FIRST"), {"tall": 4}) == [{"niva": "lav"}]
    assert decisions.decide(overlapping("FIRST"), {"tall": 100}) == [{"niva": "høy"}]
    assert decisions.decide(overlapping("RULE ORDER"), {"tall": 9}) == \
        [{"niva": "middels"}, {"niva": "høy"}]
    assert decisions.decide(overlapping("COLLECT"), {"tall": 4}) == \
        [{"niva": "lav"}, {"niva": "middels"}]
    assert decisions.decide(overlapping("COLLECT"), {"tall": -1}) == [{"niva": "lav"}]
    with pytest.raises(DecisionError, match="ANY"):
        decisions.decide(overlapping("ANY"), {"tall": 4})
    same = table_of(dmn("ens", [("tall", "integer")], [("svar", "string")],
                        [(["< 5"], ['"ja"']), (["< 10"], ['"ja"'])], "ANY"))
    assert decisions.decide(same, {"tall": 1}) == [{"svar": "ja"}]
    assert decisions.decide(overlapping(None), {"tall": None}) == []  # nothing matches


def test_unsupported_hit_policies_and_aggregations_are_refused():
    with pytest.raises(DecisionError, match="PRIORITY"):
        overlapping("PRIORITY")
    with pytest.raises(DefinitionError, match="aggregation SUM"):
        parse_bpmn({"b.bpmn": bpmn([{"id": "Rule_Niva", "decisionRef": "niva"}])},
                   {"niva.dmn": dmn("niva", [("tall", "integer")], [("niva", "integer")],
                                    [(["-"], ["1"])], "COLLECT", "SUM")})


def test_outputs_are_expressions_of_the_inputs_and_several_columns_are_kept():
    table = table_of(dmn("poeng", [("konsekvens", "integer"), ("sannsynlighet", "integer")],
                         [("risikotall", "integer"), ("tekst", "string")],
                         [(["-", "-"], ["konsekvens * sannsynlighet", '"fra matrisen"'])]))
    assert decisions.decide(table, {"konsekvens": 3, "sannsynlighet": 4}) == \
        [{"risikotall": 12, "tekst": "fra matrisen"}]
    # outputs see the variables, not the converted inputs: text times a number is null
    assert decisions.decide(table, {"konsekvens": "3", "sannsynlighet": 4}) == \
        [{"risikotall": None, "tekst": "fra matrisen"}]


def test_an_output_is_named_by_its_name_or_else_its_label_and_needs_one():
    data = dmn("uten", [("tall", "integer")], [("svar", "string")], [(["-"], ['"ja"'])])
    labelled = data.replace(b' name="svar"', b"")
    assert decisions.decide(table_of(labelled), {"tall": 1}) == [{"svar": "ja"}]
    with pytest.raises(DecisionError, match="output 'Output_0' needs a name"):
        table_of(labelled.replace(b' label="svar"', b""))


# ------------------------------------------------------------------ result mappings
@pytest.mark.parametrize(("mapping", "results", "expected"), [
    ("singleEntry", [{"a": 1}], {"r": 1}),
    ("singleEntry", [], {"r": None}),
    ("singleResult", [{"a": 1, "b": 2}], {"r": {"a": 1, "b": 2}}),
    ("singleResult", [], {"r": None}),
    ("collectEntries", [{"a": 1}, {"a": 2}], {"r": [1, 2]}),
    ("resultList", [{"a": 1, "b": 2}, {"a": 3, "b": 4}],
     {"r": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}),
    (None, [{"a": 1}], {"r": [{"a": 1}]}),  # Camunda's default is resultList
])
def test_result_mappings(mapping, results, expected):
    assert decisions.result_variables(results, "r", mapping) == expected


@pytest.mark.parametrize(("mapping", "results", "message"), [
    ("singleEntry", [{"a": 1}, {"a": 2}], "singleEntry takes one"),
    ("singleEntry", [{"a": 1, "b": 2}], "one output column"),
    ("collectEntries", [{"a": 1, "b": 2}], "one output column"),
    ("singleResult", [{"a": 1}, {"a": 2}], "singleResult takes one"),
    ("everything", [{"a": 1}], "not one of"),
])
def test_a_result_that_does_not_fit_its_mapping_is_an_error(mapping, results, message):
    with pytest.raises(DecisionError, match=message):
        decisions.result_variables(results, "r", mapping)


def test_without_a_result_variable_the_outputs_are_variables_by_name():
    assert decisions.result_variables([{"a": 1, "b": 2}], None, None) == {"a": 1, "b": 2}
    assert decisions.result_variables([], None, None) == {}
    assert decisions.result_variables([{"a": 1}, {"a": 2}], None, None, collect=True) == \
        {"a": [1, 2]}


# ------------------------------------------------------------------ through the engine
MATRIX = {  # konsekvens -> risk class for sannsynlighet 1, 2, 3, 4
    1: ["grønn", "grønn", "grønn", "gul"],
    2: ["grønn", "gul", "gul", "rød"],
    3: ["grønn", "gul", "rød", "rød"],
    4: ["gul", "rød", "rød", "rød"],
}


def test_the_deviation_routines_risk_matrix_gives_one_class_for_every_cell(engine):
    files = {"risikoklasse.dmn": (PROCESSES / "risikoklasse.dmn").read_bytes(),
             "risiko.bpmn": bpmn([{"id": "Rule_Risikoklasse", "decisionRef": "risikoklasse",
                                   "resultVariable": "risikoklasse",
                                   "mapDecisionResult": "singleEntry"}],
                                 fields=("konsekvens", "sannsynlighet"))}
    for consequence, row in MATRIX.items():
        for probability, expected in enumerate(row, 1):
            # the forms give text ("3"); the integer columns convert it
            data = run(engine, files, {"konsekvens": str(consequence),
                                       "sannsynlighet": str(probability)})
            assert data["risikoklasse"] == expected, (consequence, probability)
    table = table_of((PROCESSES / "risikoklasse.dmn").read_bytes(), "risikoklasse.dmn")
    assert (table.hit_policy or "UNIQUE") == "UNIQUE"
    assert {o.name: o.typeRef for o in table.outputs} == {"risikoklasse": "string"}


def test_every_result_mapping_through_a_deployed_business_rule_task(engine):
    files = {
        "pakke.dmn": dmn("pakke", [("risikoklasse", "string")],
                         [("tiltak", "string")],
                         [(['"rød", "gul"'], ['"Gjennomgang i KPU"']),
                          (['"rød"'], ['"Hendelsesanalyse"']), (["-"], ['"Læringsnotat"'])],
                         "RULE ORDER"),
        "klasse.dmn": dmn("klasse", [("poeng", "integer")],
                          [("klasse", "string"), ("farge", "string")],
                          [(["< 4"], ['"lav"', '"grønn"']), ([">= 4"], ['"høy"', '"rød"'])]),
        "flere.bpmn": bpmn([
            {"id": "Rule_Liste", "decisionRef": "pakke", "resultVariable": "pakke_liste",
             "mapDecisionResult": "collectEntries"},
            {"id": "Rule_Resultater", "decisionRef": "pakke", "resultVariable": "pakke_rader",
             "mapDecisionResult": "resultList"},
            {"id": "Rule_Ett", "decisionRef": "klasse", "resultVariable": "klasse_rad",
             "mapDecisionResult": "singleResult"},
            {"id": "Rule_Navn", "decisionRef": "klasse"},
        ], fields=("risikoklasse", "poeng")),
    }
    data = run(engine, files, {"risikoklasse": "rød", "poeng": "6"})
    assert data["pakke_liste"] == ["Gjennomgang i KPU", "Hendelsesanalyse", "Læringsnotat"]
    assert data["pakke_rader"] == [{"tiltak": "Gjennomgang i KPU"},
                                   {"tiltak": "Hendelsesanalyse"}, {"tiltak": "Læringsnotat"}]
    assert data["klasse_rad"] == {"klasse": "høy", "farge": "rød"}
    assert (data["klasse"], data["farge"]) == ("høy", "rød")  # no result variable


def test_a_table_that_cannot_decide_fails_the_instance_at_its_task(engine):
    files = {"niva.dmn": dmn("niva", [("tall", "integer")], [("niva", "string")],
                             OVERLAPPING),
             "niva.bpmn": bpmn([{"id": "Rule_Niva", "decisionRef": "niva",
                                 "resultVariable": "niva", "mapDecisionResult": "singleEntry"}],
                               process_id="niva", fields=("tall",))}
    assert run(engine, files, {"tall": "11"}, "niva")["niva"] == "høy"
    for data, message in (({"tall": "4"}, "UNIQUE"), ({"tall": "fire"}, "not a integer"),
                          ({}, "no variable 'tall'")):
        with pytest.raises(ExecutionError) as err:
            engine.runtime.start("niva", actor="per", data=data)
        assert err.value.element == "Rule_Niva" and message in str(err.value)
        assert "decision" in str(err.value) and "niva" in str(err.value)


@pytest.mark.parametrize(("where", "bad", "element", "found"), [
    ("input", "[1..", "risiko_feil", "rule 2 (DecisionRule_1): unexpected end in '[1..'"),
    ("input", "> > 2", "risiko_feil", "rule 2 (DecisionRule_1)"),
    ("output", "farge(1)", "risiko_feil", "rule 1 (DecisionRule_0): function farge()"),
    # neither FEEL nor anything else: the output cell itself is named
    ("output", '"grønn', "LiteralExpression_0_0", "Malformed Output Expression"),
    ("column", "konsekvens +", "risiko_feil", "input 'konsekvens +'"),
])
def test_a_malformed_cell_is_refused_at_deploy_time_naming_file_and_element(
        engine, where, bad, element, found):
    inputs = [("konsekvens" if where != "column" else bad, "integer")]
    rules = [(["1"], ['"grønn"' if where != "output" else bad]),
             ([bad if where == "input" else "2"], ['"gul"'])]
    files = {"dmn/risiko-feil.dmn": dmn("risiko_feil", inputs, [("risikoklasse", "string")],
                                        rules),
             "risiko.bpmn": bpmn([{"id": "Rule_Risiko", "decisionRef": "risiko_feil",
                                   "resultVariable": "risikoklasse",
                                   "mapDecisionResult": "singleEntry"}])}
    with pytest.raises(DefinitionError) as err:
        engine.repository.deploy(files, actor="per")
    assert (err.value.file, err.value.element) == ("dmn/risiko-feil.dmn", element)
    assert found in str(err.value)
    assert str(err.value).startswith(f"dmn/risiko-feil.dmn, element '{element}': ")
    assert engine.repository.startable("per") == []  # nothing was deployed


def test_a_business_rule_task_without_a_decision_or_with_an_unknown_mapping_is_refused(
        engine):
    table = dmn("niva", [("tall", "integer")], [("niva", "string")], [(["-"], ['"x"'])])
    for task, message in (({"id": "Rule_Uten"}, "needs camunda:decisionRef"),
                          ({"id": "Rule_Feil", "decisionRef": "niva",
                            "mapDecisionResult": "alt"}, "not one of")):
        with pytest.raises(DefinitionError) as err:
            engine.repository.deploy({"niva.dmn": table, "feil.bpmn": bpmn([task])}, actor="per")
        assert err.value.file == "feil.bpmn" and err.value.element == task["id"]
        assert message in str(err.value)


# --------------------------------------------------------- decision requirements graphs
def drg(tables: dict[str, bytes], requires: dict[str, list[str]]) -> bytes:
    """One DMN file holding the decisions of `tables` (each made by `dmn`), with
    `requires` as informationRequirement links, as Camunda Modeler saves a DRD."""
    decisions_xml = []
    for name, data in tables.items():
        root = parse_xml(data, f"{name}.dmn").getroot()
        [decision] = [n for n in root if n.tag.endswith("}decision")]
        text = etree.tostring(decision, encoding="unicode")
        links = "".join(f'<informationRequirement id="Req_{name}_{other}">'
                        f'<requiredDecision href="#{other}" /></informationRequirement>'
                        for other in requires.get(name, ()))
        decisions_xml.append(text.replace(f'name="{name}">', f'name="{name}">{links}', 1)
                             .replace(f' xmlns="{DMN_NS}"', ""))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{DMN_NS}" '
            'id="Definitions_drg" name="DRG" namespace="http://camunda.org/schema/1.0/dmn">'
            f'{"".join(decisions_xml)}</definitions>').encode()


RISK = dmn("risiko", [("konsekvens", "integer"), ("sannsynlighet", "integer")],
           [("risikoklasse", "string")],
           [([">= 4", ">= 2"], ['"rød"']), (["-", "-"], ['"grønn"'])], hit_policy="FIRST")
ACTION = dmn("handling", [("risikoklasse", "string")], [("tiltak", "string")],
             [(['"rød"'], ['"straks"']), (['"grønn"'], ['"vurder"'])])


def test_a_decision_requiring_another_gets_its_result_and_keeps_it_to_itself(engine,
                                                                            database_url):
    files = {"risiko.dmn": drg({"risiko": RISK, "handling": ACTION}, {"handling": ["risiko"]}),
             "beslutning.bpmn": bpmn([{"id": "Task_Handling", "decisionRef": "handling",
                                       "resultVariable": "handling",
                                       "mapDecisionResult": "singleEntry"}],
                                     fields=("konsekvens", "sannsynlighet"))}
    found = run(engine, files, {"konsekvens": "4", "sannsynlighet": "3"})
    assert found["handling"] == "straks" and "risikoklasse" not in found
    # a server started afresh reads the deployed specs from the database
    from installation import services
    again = services.build_engine(database_url, clock=engine.clock)
    row = again.runtime.start("beslutning", actor="per", data={"konsekvens": "1",
                                                               "sannsynlighet": "1"})
    assert again.history.show(row.id)["data"]["handling"] == "vurder"
    again.db.dispose()


def test_a_required_decision_missing_or_in_a_circle_is_refused_by_name(engine):
    missing = drg({"handling": ACTION}, {"handling": ["risiko"]})
    with pytest.raises(DefinitionError, match="requires decision 'risiko'"):
        engine.repository.deploy({"drg.dmn": missing}, actor="per")
    circle = drg({"risiko": RISK, "handling": ACTION},
                 {"handling": ["risiko"], "risiko": ["handling"]})
    with pytest.raises(DefinitionError, match="circle"):
        engine.repository.deploy({"drg.dmn": circle}, actor="per")
