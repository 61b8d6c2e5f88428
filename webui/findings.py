"""What the linter finds in process files (and what deploying refuses), and what stops a
case from moving to another version, in the user's language: one text per code of
engine/model/ and engine/migration/, naming the element ids, variables, forms and groups
the engine gave with it. `messages.say` looks them up beside the refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _

Text = Callable[[dict[str, Any]], str]


def _where(where: str) -> str:
    """Where in an element an expression is: its condition, timer or name in words, a
    Camunda attribute by its name."""
    if where == "conditionExpression":
        return _("The condition")
    if where == "completionCondition":
        return _("The completion condition")
    if where == "name":
        return _("The name")
    if where in ("timeDuration", "timeDate", "timeCycle"):
        return _("The timer (%(kind)s)", kind=where)
    return where


def _references(p: dict[str, Any]) -> str:
    kind, ref = p["kind"], p["ref"]
    if kind == "message":
        return _("The message “%(ref)s” is not defined in the file (a bpmn:message with "
                 "that id).", ref=ref)
    if kind == "signal":
        return _("The signal “%(ref)s” is not defined in the file (a bpmn:signal with "
                 "that id).", ref=ref)
    if kind == "error":
        return _("The error “%(ref)s” is not defined in the file (a bpmn:error with that "
                 "id).", ref=ref)
    return _("The escalation “%(ref)s” is not defined in the file (a bpmn:escalation with "
             "that id).", ref=ref)


def _listed(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


FILES: dict[str, Text] = {
    "not_process_file": lambda p: _("Not a BPMN (.bpmn), DMN (.dmn) or form (.form) file."),
    "nothing_to_deploy": lambda p: _("Nothing to deploy: no BPMN, DMN or form files were "
                                     "found."),
    "file_not_utf8": lambda p: _("The file is not UTF-8 text (byte %(byte)s): save it as "
                                 "UTF-8, as Camunda Modeler does.", **p),
    "model_too_large": lambda p: _("The file is larger than %(limit)s MiB.", **p),
    "doctype_refused": lambda p: _("Document type declarations and entities are not "
                                   "allowed (a possible XXE or entity-expansion attack)."),
    "malformed_xml": lambda p: _("The XML is malformed: %(detail)s", **p),
    "not_bpmn": lambda p: _("Not a BPMN 2.0 file (the root element must be "
                            "bpmn:definitions)."),
    "model_unreadable": lambda p: _("The model could not be read here: %(detail)s", **p),
    "model_unsupported": lambda p: _("The model uses a construct this engine does not "
                                     "support."),
    "model_invalid": lambda p: _("The model is not valid: %(detail)s", **p),
    # forms
    "form_not_json": lambda p: _("Not a Camunda form: the file is not valid JSON "
                                 "(%(detail)s).", **p),
    "form_without_components": lambda p: _("Not a Camunda form: it has no list of "
                                           "components."),
    "form_too_deep": lambda p: _("The components are nested more than %(limit)s deep.", **p),
    "component_without_type": lambda p: _("Component %(number)s is not an object with a "
                                          "type.", **p),
    "group_components_not_list": lambda p: _("The components of a group must be a list."),
}

BPMN: dict[str, Text] = {
    "duplicate_id": lambda p: _("The id “%(id)s” is used by %(count)s elements.", **p),
    "id_too_long": lambda p: _("An id is longer than %(limit)s characters (“%(start)s…”).",
                               **p),
    "no_executable_process": lambda p: _(
        "The file has no executable process (a bpmn:process with isExecutable=\"true\"): "
        "there is nothing here to run."),
    "container_without_id": lambda p: _("A %(kind)s without an id.", **p),
    "element_without_id": lambda p: _("A %(kind)s in “%(container)s” has no id.", **p),
    "flow_source_outside": lambda p: _("The sequence flow “%(flow)s” leads from “%(end)s”, "
                                       "which is not in “%(container)s”.", **p),
    "flow_target_outside": lambda p: _("The sequence flow “%(flow)s” leads to “%(end)s”, "
                                       "which is not in “%(container)s”.", **p),
    "boundary_outside": lambda p: _("The boundary event “%(event)s” is attached to "
                                    "“%(attached)s”, which is not in “%(container)s”.", **p),
    "reference_undefined": _references,
    "execution_listener": lambda p: _("Execution listeners (camunda:executionListener) do "
                                      "not run here: use a script task or a service task "
                                      "instead."),
    "task_listener": lambda p: _("Task listeners (camunda:taskListener) do not run here: "
                                 "use a script task or a boundary timer instead."),
    "condition_unparsable": lambda p: _("The condition “%(expression)s” cannot be read: "
                                        "%(detail)s", **p),
    "timer_unparsable": lambda p: _("The timer (%(kind)s) “%(expression)s” cannot be read: "
                                    "%(detail)s", **p),
    "attribute_unparsable": lambda p: _("The expression “%(expression)s” in %(attribute)s "
                                        "cannot be read: %(detail)s", **p),
    "carry_over_not_on_user_task": lambda p: _("The property %(property)s belongs on a "
                                               "user task.", **p),
    "carry_over_invalid": lambda p: _("The property %(property)s cannot be read: "
                                      "%(detail)s", **p),
    "carry_over_unknown_task": lambda p: _(
        "The property %(property)s names “%(task)s”, which is not a user task in the "
        "process “%(process)s”.", **p),
    "form_key_unsupported": lambda p: _(
        "The form key “%(key)s” is not a form this engine shows: link a Camunda form "
        "(camunda:formRef, or camunda-forms:deployment:FILE.form) or use generated form "
        "fields.", **p),
    "script_format": lambda p: _("The script format “%(format)s” is not supported: only "
                                 "scriptFormat=\"python\" runs here.", **p),
    "script_resource": lambda p: _("External script resources are not supported."),
    "script_missing": lambda p: _("The script task has no script."),
    "script_does_not_compile": lambda p: _("The script does not compile: %(detail)s", **p),
    "decision_ref_missing": lambda p: _(
        "A business rule task needs camunda:decisionRef (the id of a decision in a "
        "deployed DMN file)."),
    "result_mapping_unknown": lambda p: _(
        "camunda:mapDecisionResult “%(mapping)s” is not one of %(mappings)s.",
        mapping=p["mapping"], mappings=_listed(p["mappings"])),
    "result_variable_missing": lambda p: _(
        "A service task with camunda:expression needs camunda:resultVariable here: the "
        "value is its only effect."),
    "service_task_unsupported": lambda p: _(
        "A service task runs here only as camunda:type=\"external\" with "
        "camunda:topic=\"%(topic)s\" (a notification), or with camunda:expression and "
        "camunda:resultVariable.", **p),
    "collection_not_variable": lambda p: _(
        "The multi-instance collection “%(collection)s” must name one variable, like "
        "${liste}.", **p),
    "timer_start_unreadable": lambda p: _("The timer start event cannot read "
                                          "“%(expression)s”: %(detail)s", **p),
    "variant_element_missing": lambda p: _(
        "The variant of “%(key)s” for “%(tenant)s” must keep the interaction between "
        "clinics that the default declares: the element “%(element)s” (%(kind)s) is "
        "missing.", **p),
    "variant_element_changed": lambda p: _(
        "The variant of “%(key)s” for “%(tenant)s” must keep the interaction between "
        "clinics that the default declares: the element “%(element)s” has %(what)s "
        "“%(after)s”, the default has “%(before)s”.", **p),
}

DMN: dict[str, Text] = {
    "not_dmn": lambda p: _("Not a DMN 1.1 to 1.3 file (the root element must be "
                           "dmn:definitions)."),
    "no_decision": lambda p: _("The file has no decision."),
    "decision_without_id": lambda p: _("A decision without an id (the id is what a business "
                                       "rule task's camunda:decisionRef names)."),
    "decision_not_table": lambda p: _(
        "The decision “%(decision)s” is not a decision table (literal expressions and "
        "other decision logic do not run here).", **p),
    "required_decision_missing": lambda p: _(
        "The decision “%(decision)s” requires the decision “%(required)s”, which is not "
        "in the file.", **p),
    "decision_cycle": lambda p: _("Decisions require each other in a circle (%(cycle)s).",
                                  **p),
    "decision_invalid": lambda p: _("The decision table cannot be read: %(detail)s", **p),
    "aggregation_unsupported": lambda p: _("The aggregation %(aggregation)s is not "
                                           "supported.", **p),
    "hit_policy_unsupported": lambda p: _(
        "The hit policy %(policy)s is not supported (%(policies)s).", policy=p["policy"],
        policies=_listed(p["policies"])),
    "empty_expression": lambda p: _("An expression is empty."),
    "decision_input_empty": lambda p: _("The input “%(input)s” has no expression.", **p),
    "decision_input_invalid": lambda p: _("The input “%(input)s” cannot be read: "
                                          "%(detail)s", **p),
    "decision_output_unnamed": lambda p: _("The output “%(output)s” needs a name.", **p),
    "decision_rule_invalid": lambda p: _("Rule %(rule)s (%(rule_id)s) cannot be read: "
                                         "%(detail)s", **p),
}

LINT: dict[str, Text] = {
    "variable_unset": lambda p: _(
        "%(where)s reads the variable “%(variable)s”, which is set by no form, script, "
        "mapping or result of these files or of what is deployed.",
        where=_where(p["where"]), variable=p["variable"]),
    "form_ref_missing": lambda p: _(
        "The form “%(form)s” (camunda:formRef) is neither among these files nor deployed: "
        "the task cannot show its form.", **p),
    "form_file_missing": lambda p: _(
        "The form file “%(file)s” (camunda:formKey) is neither among these files nor "
        "deployed: the task cannot show its form.", **p),
    "candidate_group_unknown": lambda p: _(
        "The candidate group “%(group)s” (camunda:candidateGroups) matches no group of the "
        "organisation: nobody would get the task.", **p),
    "starter_group_unknown": lambda p: _(
        "The starter group “%(group)s” (camunda:candidateStarterGroups) matches no group of "
        "the organisation: nobody could start the process.", **p),
}

MIGRATION: dict[str, Text] = {
    "call_not_on_target": lambda p: _(
        "“%(element)s” runs %(runs)s, which the case on version %(version)s does not call.",
        **p),
    "active_not_mapped": lambda p: _(
        "“%(element)s” is active in the case, and the plan does not say where it goes.", **p),
    "mapped_to_missing": lambda p: _(
        "“%(element)s” is active in the case and is mapped to %(target)s, which version "
        "%(version)s does not have.", **p),
    "passed_missing": lambda p: _(
        "The case has passed “%(element)s”, and version %(version)s does not have "
        "%(target)s (the path a case has taken is kept).", **p),
    "kind_changes": lambda p: _(
        "“%(element)s”, a %(kind)s, cannot become %(target)s, a %(target_kind)s.", **p),
    "calls_other_process": lambda p: _(
        "“%(element)s” calls %(calls)s, and %(target)s on version %(version)s calls "
        "%(target_calls)s.", **p),
    "plan_source_missing": lambda p: _(
        "Version %(version)s of %(key)s has no element “%(element)s”.", **p),
    "plan_target_missing": lambda p: _(
        "“%(element)s” is mapped to %(target)s, which version %(version)s of %(key)s does "
        "not have.", **p),
}

FINDINGS: dict[str, Text] = {**FILES, **BPMN, **DMN, **LINT, **MIGRATION}
