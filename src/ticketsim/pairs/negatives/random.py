"""Random negatives: any allowed training ticket (another category, not linked).

Pick it as the control of an ablation (mined vs random) or when mining is too slow;
in-batch negatives of MNRL are random already, so it mostly adds label-0 pairs for
labelled losses. Needs nothing.
"""

from __future__ import annotations

# Random negatives need no scorer: ``ticketsim.pairs.negatives.mine`` draws uniformly
# from the eligible tickets when it is given ``scorer=None``.
SCORER = None
