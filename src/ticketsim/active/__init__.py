"""Active learning: ask a person about the pairs that teach the model most.

- :mod:`.candidates`: retrieved candidate pairs (model + BM25 neighbours), known pairs excluded;
- :mod:`.strategies`: uncertainty, disagreement, diversity, random (one module each);
- :mod:`.suggest`: one round (candidates -> strategy -> rows with both tickets);
- :mod:`.exchange`: CSV / JSON lines export (formula-escaped) and validated import;
- :mod:`.session`: the interactive, resumable terminal session;
- :mod:`.retrain`: fine-tune from the current model on the enlarged links.

Everything writes to the links store (``data.links_store``) with source, who and when.
See docs/active_learning.md.
"""
