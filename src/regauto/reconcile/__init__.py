"""The reconciler (seed phase 6, SPEC §8.2): ``check`` finds drift, ``fix`` repairs it.

``reconciler`` (the entry points, ``reconcile(project, apply=…)``), ``tree_state`` (the
tree, from git's index and status), ``registry_view`` (the registry and its stored-form
problems), ``plan`` (what the pipeline must see again), ``repair`` (the pipeline, shown the
plan, with or without the write), ``translate`` (its decisions as drifts), ``restore``
(a registry that does not parse), ``report`` (text, JSON, GitHub output; the JSON schema),
``drift`` (the kinds), ``cache`` (the state-dir caches behind a cheap clean check).
"""
