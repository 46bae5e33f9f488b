"""lls_core: the tested library behind lls-book.

One module per concept: ``surfaces`` (2-D test landscapes), ``optimizers`` (the
survey's gradient-descent family), ``lbfgs_gss`` (Yu & Morozov's L-BFGS with a
golden-section line search), ``pathfinder`` (FourierPathFinder), ``engine``
(one architecture at R weight vectors on shared data: losses, per-run gradients,
lines and affine families, memory-bounded), ``batched`` (its hand-batched
kernels for the study networks), ``data``
(embedded digits and the official test set), ``authors`` (the authors' published
solutions: fetch, load, derived numbers), ``models``, ``train`` (the ensemble trainer),
``landscape``, ``symmetry`` (aligning hidden units by weight matching), ``store``, ``plotting``, ``book`` (chapter
execution) and ``cli`` (the ``lls-book`` command).
"""

__version__ = "0.1.0"
