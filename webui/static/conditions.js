// Conditions of Camunda Forms (`conditional.hide`) on the page: FEEL after a leading
// `=`, evaluated by feelin, bpmn.io's FEEL interpreter (the one form-js uses). The
// server reads the same text with the feel package (forms/conditions.py);
// tests/fixtures/feel-cases.json holds both to the same answers.
import { evaluate } from "feelin";

// The value of a condition with `context` as its variables; throws on text that is not FEEL.
export function evaluateCondition(text, context) {
  return evaluate(text.trim().replace(/^=/, ""), context).value;
}
