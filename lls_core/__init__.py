"""lls_core: the tested library behind lls-book.

One module per concept: ``surfaces`` (2-D test landscapes), ``optimizers`` (the
survey's gradient-descent family), ``lbfgs_gss`` (Yu & Morozov's L-BFGS with a
golden-section line search), ``pathfinder`` (FourierPathFinder), ``engine``
(one architecture at R weight vectors on shared data: losses, per-run gradients,
lines and affine families, memory-bounded), ``batched`` (its hand-batched
kernels for the study networks), ``data``
(embedded digits and the official test set), ``authors`` (the authors' published
solutions: fetch, load, derived numbers), ``models``, ``train`` (the ensemble trainer),
``landscape``, ``symmetry`` (aligning hidden units by weight matching), ``store``, ``plotting``,
``resources`` (the data shipped with the package, read through ``importlib.resources``, and the
one writable root: ``$LLS_ROOT``, else the source checkout, else the current folder).

The book tooling, ``book`` (chapter execution), ``cli`` (the ``lls-book`` command), ``plan`` and
``reproducibility``, needs the ``book`` extra (``pip install "lls-core[book]"``); ``import lls_core``
and every other module never import it.
"""

__version__ = "0.1.0"
