"""Moving running cases from one version of a process to another, as Camunda 7's
instance migration does: a plan (plan.py), and the re-pointing of a case's state onto
the target version's specs (repoint.py), which the engine and the replay both use."""
