"""Camunda 7 multi-instance in place of SpiffWorkflow's Camunda classes: the collection is
read, never written, and each instance's loop variables are its own (docs/DESIGN.md,
"Multi-instance activities").
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    ParallelMultiInstanceTask as BpmnParallel,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    SequentialMultiInstanceTask as BpmnSequential,
)
from SpiffWorkflow.util.task import TaskState

from .specs import copy_of

LOOP_COUNTER = "loopCounter"
MAX_INSTANCES = 1_000  # instances of one multi-instance activity (engine/limits.py's rows)
WRITTEN = "written"  # a parallel activity's internal data: what its instances wrote
SUBMITTED = "submitted"  # an instance's internal data: the variables its form submitted


class CamundaMultiInstance:
    """What parallel and sequential Camunda multi-instance activities share."""

    def __init__(self, wf_spec, bpmn_id, task_spec, cardinality=None, data_input=None,
                 data_output=None, input_item=None, output_item=None, condition=None,
                 **kwargs):
        if data_input is None and data_output is not None and cardinality is None:
            # a spec stored as SpiffWorkflow's Camunda parser wrote it: the collection as
            # its output, the element variable as its output item
            data_input, input_item = data_output, output_item
            data_output = output_item = None
        super().__init__(wf_spec, bpmn_id, task_spec, cardinality=cardinality,
                         data_input=data_input, data_output=None, input_item=input_item,
                         output_item=None, condition=condition, **kwargs)

    def _update_hook(self, my_task):
        if "merged" not in my_task.internal_data:  # entering the activity
            my_task._inherit_data()  # as SpiffWorkflow's hook does first (done twice: the same)
            self._check_instances(my_task)
        return super()._update_hook(my_task)

    def _check_instances(self, my_task) -> None:
        """The collection or cardinality must give 0 to MAX_INSTANCES instances; otherwise
        the activity fails by name (and never tries to make a billion tasks)."""
        if self.data_input is not None:
            name = self.data_input.bpmn_id
            items = my_task.data.get(name)
            if items is None:
                raise WorkflowTaskException(
                    f"the collection '{name}' has no value", task=my_task)
            if not isinstance(items, (list, tuple, dict, set)):
                raise WorkflowTaskException(
                    f"the collection '{name}' is not a list but {type(items).__name__}",
                    task=my_task)
            count = len(items)
        elif self.cardinality is not None:
            count = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise WorkflowTaskException(
                    f"the loop cardinality '{self.cardinality}' is {count!r}, not a whole "
                    "number of instances from 0", task=my_task)
        else:
            return
        if count > MAX_INSTANCES:
            raise WorkflowTaskException(
                f"{count} instances: a multi-instance activity runs at most {MAX_INSTANCES}",
                task=my_task)

    def local_names(self) -> set[str]:
        names = {LOOP_COUNTER}
        if self.input_item is not None:
            names.add(self.input_item.bpmn_id)
        return names

    def create_child(self, my_task, item, key_or_index=None):
        task_spec = my_task.workflow.spec.task_specs[self.task_spec]
        if not task_spec.completed_event.is_connected(self.merge_child):
            task_spec.completed_event.connect(self.merge_child)
        counter = sum(1 for _ in self._instances(my_task))
        child = my_task._add_child(task_spec, TaskState.WAITING)
        child.triggered = True
        if key_or_index is not None:
            child.internal_data["key_or_index"] = key_or_index
        else:
            child.internal_data["item"] = copy_of(item)
        # the instance inherits the enclosing data with its local variables, which may
        # shadow variables of the same name outside; they are there before the instance
        # is updated, since a call activity starts (and reads them) at once
        local = {LOOP_COUNTER: counter}
        if self.input_item is not None:
            local[self.input_item.bpmn_id] = item
        enclosing = my_task.data
        my_task.data = {**enclosing, **local}
        try:
            child.task_spec._update(child)
        finally:
            my_task.data = enclosing

    def written_by(self, my_task, child) -> dict[str, Any]:
        """The variables this instance set: changed from what it inherited, submitted in
        its form, or mapped by its output parameters."""
        base, local = my_task.data, self.local_names()
        noted = set(child.internal_data.get(SUBMITTED) or ())
        written = {key: copy_of(value) for key, value in child.data.items()
                   if key not in local and (key in noted or key not in base
                                            or base[key] != value)}
        outputs = ((getattr(self, "extensions", None) or {}).get("inputOutput") or {}) \
            .get("outputs") or []
        engine = my_task.workflow.script_engine
        for output in outputs:
            written[output["name"]] = engine.evaluate(child, output["value"]) \
                if output["value"] else None
        return written

    def completion_context(self, my_task, pending: dict[str, Any]) -> dict[str, Any]:
        instances = list(self._instances(my_task))
        done = sum(1 for t in instances if t.state == TaskState.COMPLETED)
        active = sum(1 for t in instances if not t.has_state(TaskState.FINISHED_MASK))
        return {**my_task.data, **pending, "nrOfInstances": len(instances),
                "nrOfCompletedInstances": done, "nrOfActiveInstances": active}

    def condition_met(self, my_task, pending: dict[str, Any]) -> bool:
        if not self.condition:
            return False
        engine = my_task.workflow.script_engine
        return bool(engine.evaluate(my_task, self.condition,
                                    external_context=self.completion_context(my_task, pending)))


class ParallelMultiInstanceTask(CamundaMultiInstance, BpmnParallel):
    """Instances run side by side on the data as it was when they began; their writes are
    kept aside and reach the enclosing scope together when the activity completes."""

    def merge_child(self, workflow, child):
        my_task = child.parent
        if my_task is None or my_task.task_spec is not self:
            return
        pending = my_task.internal_data.setdefault(WRITTEN, {})
        pending.update(self.written_by(my_task, child))
        my_task.internal_data["merged"].append(str(child.id))
        if self.condition_met(my_task, pending):
            for instance in self._instances(my_task):
                instance.cancel()
        elif not self.children_complete(my_task):
            return
        my_task.data.update(my_task.internal_data.pop(WRITTEN))
        my_task._set_state(TaskState.READY)


class SequentialMultiInstanceTask(CamundaMultiInstance, BpmnSequential):
    """One instance after the other, each seeing what the ones before it wrote."""

    def merge_child(self, workflow, child):
        my_task = child.parent
        if my_task is None or my_task.task_spec is not self:
            return
        my_task.data.update(self.written_by(my_task, child))
        my_task.internal_data["merged"].append(str(child.id))
        if self.children_complete(my_task) or self.condition_met(my_task, {}):
            my_task._set_state(TaskState.READY)
        else:
            self.add_next_child(my_task)


def enclosing_data(task) -> dict[str, Any]:
    """A task's variables as its process sees them: inside a multi-instance activity,
    without the instance's local variables and with what its instances wrote so far."""
    while task.parent is not None and isinstance(task.parent.task_spec, CamundaMultiInstance):
        task = task.parent
    if isinstance(task.task_spec, CamundaMultiInstance):
        return {**task.data, **(task.internal_data.get(WRITTEN) or {})}
    return dict(task.data)


def note_written(task, values: dict[str, Any]) -> None:
    """Remember which variables a form submitted in a multi-instance instance, so that a
    value equal to the one it inherited still counts as written (Camunda's last write)."""
    parent = task.parent
    if values and parent is not None and isinstance(parent.task_spec, CamundaMultiInstance):
        task.internal_data[SUBMITTED] = sorted(
            set(task.internal_data.get(SUBMITTED) or ()) | set(values))


class MultiInstanceParser:
    """Builds the classes above from `bpmn:multiInstanceLoopCharacteristics` with
    `camunda:collection`, `camunda:elementVariable`, `loopCardinality` and
    `completionCondition`, fixed at parse time."""

    def _add_multiinstance_task(self, loop_characteristics):
        prefix = "bpmn:multiInstanceLoopCharacteristics"
        cardinality = self.xpath(f"./{prefix}/bpmn:loopCardinality")
        cardinality = cardinality[0].text if len(cardinality) > 0 else None
        collection = self.attribute("collection", "camunda", loop_characteristics)
        if cardinality is None and collection is None:
            self.raise_validation_exception(
                "a multi-instance activity needs camunda:collection or a loop cardinality")
        element = self.attribute("elementVariable", "camunda", loop_characteristics)
        condition = self.xpath(f"./{prefix}/bpmn:completionCondition")
        condition = condition[0].text if len(condition) > 0 else None
        original = self.spec.task_specs.pop(self.task.name)
        params = {
            "task_spec": "",
            "cardinality": None if collection is not None else cardinality,
            "data_input": TaskDataReference(collection) if collection is not None else None,
            "input_item": TaskDataReference(element) if element is not None else None,
            "condition": condition,
        }
        sequential = loop_characteristics.get("isSequential") == "true"
        kind = SequentialMultiInstanceTask if sequential else ParallelMultiInstanceTask
        self.task = kind(self.spec, original.name, **params)
        self._copy_task_attrs(original, loop_characteristics)


def with_multi_instance(parser_class: type) -> type:
    """`parser_class` building Camunda multi-instance activities as above."""
    if not issubclass(parser_class, TaskParser):
        return parser_class
    return type(parser_class.__name__, (MultiInstanceParser, parser_class), {})
