"""Files the project was not written for, deployed: each is refused in one sentence that
names the file (and the element, where there is one), never with a Python error, a piece
of XML or a traceback; the valid ones deploy. The corpus is assembled by hand from the
BPMN 2.0, DMN 1.3 and Camunda Forms specifications (tests/fixtures/corpus/, one file
per case), and grown by random mutations of the routines in processes/."""

from __future__ import annotations

import random
import re

import pytest
from lxml import etree

from engine.errors import DefinitionError, TiltakError

from walks import FIXTURES, PROCESSES

CORPUS_DIR = FIXTURES / "corpus"  # one file per case, as they would arrive
CORPUS = {p.name: p.read_bytes() for p in sorted(CORPUS_DIR.iterdir())}

DEPLOYS = {"gateway-dead-end.bpmn", "message-no-ref.bpmn", "data-store.bpmn",
           "two-decisions.dmn"}  # a decision requirements graph
PYTHONISH = re.compile(r"\b\w+(Error|Exception)\b|Traceback|<\?xml|<[A-Za-z]+:[A-Za-z]+|"
                       r"xmlns|object has no attribute")


def plainly_refused(err: DefinitionError, filename: str) -> None:
    text = str(err)
    assert text.startswith(filename), text
    assert not PYTHONISH.search(text), text
    assert len(text) < 500, text


@pytest.mark.parametrize("filename", sorted(CORPUS))
def test_a_foreign_or_malformed_file_is_refused_in_words(engine, filename):
    if filename in DEPLOYS:
        engine.repository.deploy({filename: CORPUS[filename]}, actor="per")
        return
    with pytest.raises(DefinitionError) as raised:
        engine.repository.deploy({filename: CORPUS[filename]}, actor="per")
    plainly_refused(raised.value, filename)


def mutations(rng: random.Random, data: bytes, n: int) -> list[bytes]:
    """Random damage of the kinds hand edits and other tools do: an attribute dropped or
    given another element's id, an element removed, the file cut short."""
    found = []
    for _ in range(n):
        root = etree.fromstring(data)
        nodes = [e for e in root.iter() if isinstance(e.tag, str)]
        ids = [e.get("id") for e in nodes if e.get("id")]
        node = rng.choice(nodes[1:])
        how = rng.randrange(4)
        if how == 0 and node.attrib:
            del node.attrib[rng.choice(list(node.attrib))]
        elif how == 1 and node.attrib:
            node.set(rng.choice(list(node.attrib)), rng.choice(ids))
        elif how == 2 and node.getparent() is not None:
            node.getparent().remove(node)
        text = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        if how == 3:
            text = text[:rng.randrange(len(text))]
        found.append(text)
    return found


def test_damaged_copies_of_the_routines_deploy_or_are_refused_in_words(engine):
    rng = random.Random(20261206)
    files = sorted(p for p in PROCESSES.rglob("*.bpmn"))
    tried = 0
    for path in files:
        for damaged in mutations(rng, path.read_bytes(), 12):
            tried += 1
            try:
                engine.repository.deploy({path.name: damaged}, actor="per")
            except DefinitionError as err:
                plainly_refused(err, path.name)
            except TiltakError:
                pass  # a refusal of the engine's own kind (a called process missing, say)
    assert tried >= 80
