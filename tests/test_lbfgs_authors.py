"""``LBFGSGSS(mode="authors")`` against a plain transcription of the authors' optimizer.

The reference below is written from the description of the authors' class (``LBFGS_Brent`` in
``L-BFGS_GSS_NN.ipynb`` of github.com/jy856-jpg/path-finding, commits 5a68028 / e11b717) as a
loop over a flat weight vector; it imports nothing from :mod:`lls_core.lbfgs_gss`. The FCP
forward pass is written out here too, so only the initial weights and the digits come from
the package (the digits through the ``mnist_5k`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lls_core import models, params
from lls_core.lbfgs_gss import LBFGSGSS, authors_line_search


# ----------------------------------------------------------------------------- the reference


def reference_line_search(phi, f0, r_norm, budget=6, tol=1e-4):
    """Return (step, value, evaluations) as the authors' bracketing + golden search does."""
    calls = [0]

    def ev(t):
        calls[0] += 1
        return phi(t)

    lo, f_lo = 0.0, f0
    best = hi = f_best = f_hi = None
    exponent = 0
    step = 0.2 * 2**exponent * r_norm
    value = ev(step)
    used = 1
    if value < f_lo:
        exponent += 1
        best, f_best = step, value
        while hi is None:
            exponent += 1
            step = 0.2 * 2**exponent * r_norm
            value = ev(step)
            used += 1
            if value < f_best:
                lo, f_lo, best, f_best = best, f_best, step, value
                if used == budget:
                    return best, f_best, calls[0]
            elif value > f_best:
                hi, f_hi = step, value
                if used == budget:
                    return best, f_best, calls[0]
            else:
                mid = (lo + step) / 2
                return mid, ev(mid), calls[0]
    elif value > f_lo:
        hi, f_hi = step, value
        while best is None:
            if abs(hi - lo) < tol or abs(f_lo - f_hi) < tol:
                return hi, f_hi, calls[0]
            step = lo + 0.382 * (hi - lo)
            value = ev(step)
            used += 1
            if value < f_lo:
                best, f_best = step, value
                if used == budget:
                    return best, f_best, calls[0]
            elif value > f_lo:
                hi, f_hi = step, value
                if used == budget:
                    return hi, f_hi, calls[0]
            else:
                mid = (lo + step) / 2
                return mid, ev(mid), calls[0]
    else:
        mid = (lo + step) / 2
        return mid, ev(mid), calls[0]
    while used != budget:
        if abs(hi - lo) < tol or abs(f_lo - f_hi) < tol:
            return best, f_best, calls[0]
        width = 0.382 * (hi - lo)
        step = lo + width if (hi - best) > (best - lo) else hi - width
        value = ev(step)
        used += 1
        if value < f_best:
            if step >= best:
                lo, f_lo = best, f_best
            else:
                hi, f_hi = best, f_best
            best, f_best = step, value
        elif value > f_best:
            if step < best:
                lo, f_lo = step, value
            elif step > best:
                hi, f_hi = step, value
        else:
            return best, f_best, calls[0]
    return best, f_best, calls[0]


def reference_run(loss_of, w, n_steps, history=10):
    """Losses after each of ``n_steps`` iterations of the authors' L-BFGS on ``loss_of(w)``."""
    w = w.clone()
    S, Y = [], []
    last_s = last_g = None
    out = []
    for _ in range(n_steps):
        wg = w.clone().requires_grad_(True)
        f = loss_of(wg)
        (g,) = torch.autograd.grad(f, wg)
        f = float(f.detach())
        if last_g is not None:
            if len(S) == history:
                S.pop(0)
                Y.pop(0)
            S.append(last_s)
            Y.append(g - last_g)
        q = g.clone()
        alphas = []
        cosines = []
        zero = False
        for s, y in zip(reversed(S), reversed(Y)):
            sy = torch.dot(y, s)
            den = y.norm().item() * s.norm().item()
            if den == 0.0:
                zero = True
            else:
                cosines.append(sy.item() / den)
            a = (1.0 / (sy + 1e-6)) * torch.dot(s, q)
            alphas.append(a)
            q = q - a * y
        gamma = torch.dot(S[-1], Y[-1]) / torch.dot(Y[-1], Y[-1]) if S else 1.0
        r = gamma * q
        for i, (s, y) in enumerate(zip(S, Y)):
            beta = (1.0 / (torch.dot(y, s) + 1e-6)) * torch.dot(y, r)
            r = r + s * (alphas[len(S) - 1 - i] - beta)
        if torch.isnan(r).any() or any(c < 1e-4 for c in cosines) or zero:
            r = g
            S, Y = [], []
        norm = r.norm().item()
        unit = r / norm

        def phi(t):
            with torch.no_grad():
                return float(loss_of(w - t * unit))

        t, value, _ = reference_line_search(phi, f, norm)
        last_s = -t * unit
        w = w + last_s
        last_g = g
        out.append(value)
    return out


def fcp_loss(x, y, activation):
    act = {"softplus": F.softplus, "relu": F.relu}[activation]
    flat = x.reshape(x.shape[0], 784)

    def loss_of(w):
        w1 = w[: 50 * 784].reshape(50, 784)
        w2 = w[50 * 784 : 50 * 784 + 2500].reshape(50, 50)
        w3 = w[50 * 784 + 2500 :].reshape(10, 50)
        h = act(flat @ w1.T)
        h = act(h @ w2.T)
        return F.cross_entropy(h @ w3.T, y)

    return loss_of


# ----------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def batch(mnist_5k):
    torch.set_num_threads(1)
    return mnist_5k.x_train[:1000], mnist_5k.y_train[:1000]


@pytest.mark.parametrize("activation", ["softplus", "relu"])
def test_authors_mode_follows_the_transcription_for_20_steps(batch, activation, make_closure):
    # Double precision: the two implementations round differently, and in float32 those
    # differences can grow into different trajectories once the loss is small.
    x, y = batch
    x = x.double()
    model = models.build("fcp", activation=activation, seed=3).double()
    w0 = params.flatten(model).detach().clone()
    expected = reference_run(fcp_loss(x, y, activation), w0, 20)

    opt = LBFGSGSS(model.parameters(), mode="authors")

    closure = make_closure(opt, lambda: models.loss(model, x, y))

    got = []
    for _ in range(20):
        opt.step(closure)
        got.append(opt.last_step.new_loss)
    rel = [abs(a - b) / abs(b) for a, b in zip(got, expected)]
    assert max(rel) < 1e-4, list(zip(got, expected))
    # The run is not trivial: the loss falls a lot, and the counts are recorded per step.
    assert expected[-1] < 0.5 * expected[0]
    diag = opt.diagnostics()
    assert diag.iterations == 20 and diag.mode == "authors"
    assert len(diag.uphill) == len(diag.no_decrease) == 20
    assert diag.gradient_evaluations == 20  # one backward per iteration; the trials are forward-only


def test_safe_mode_differs_from_the_authors(batch, make_closure):
    """The two modes are different algorithms: their loss sequences part within 20 steps."""
    x, y = batch
    losses = {}
    for mode in ("authors", "safe"):
        model = models.build("fcp", activation="softplus", seed=3)
        opt = LBFGSGSS(model.parameters(), mode=mode)

        closure = make_closure(opt, lambda: models.loss(model, x, y))

        for _ in range(20):
            opt.step(closure)
        losses[mode] = opt.diagnostics().new_loss
    assert max(abs(a - b) / b for a, b in zip(losses["authors"], losses["safe"])) > 1e-3


def quadratic_phi(t_star, scale=1.0):
    return lambda t: scale * (t - t_star) ** 2


def test_line_search_trial_steps_are_02_08_16_32():
    trials = []

    def phi(t):
        trials.append(t)
        return -t  # falls for ever: every trial succeeds until the budget is spent

    res = authors_line_search(phi, f0=0.0, initial_step=0.2, budget=6)
    assert [round(t, 12) for t in trials] == [0.2, 0.8, 1.6, 3.2, 6.4, 12.8]
    assert res.step == pytest.approx(12.8) and res.evaluations == 6


def test_line_search_returns_an_uphill_point_within_tolerance():
    # First trial higher than f0 by less than tol: the search returns it without another trial.
    res = authors_line_search(lambda t: 1.0 + 5e-5 * t, f0=1.0, initial_step=0.2, tol=1e-4)
    assert res.step == 0.2 and res.evaluations == 1 and not res.decreased and res.value > 1.0


def test_line_search_shrinks_by_0382_and_golden_trials_sit_0382_from_the_ends():
    trials = []

    def phi(t):
        trials.append(t)
        return (t - 0.05) ** 2

    res = authors_line_search(phi, f0=0.05**2, initial_step=1.0, budget=6, tol=1e-9)
    assert trials[:4] == pytest.approx([1.0, 0.382, 0.382**2, 0.382**3])
    # The first golden trial a + 0.382 (b - a) falls exactly on the best point found by the
    # shrinking (x = 0.382 b): it ties with it and the search ends there.
    assert trials[4] == trials[3] and res.step == trials[3] and res.evaluations == 5
    assert res.decreased and res.bracket == (0.0, pytest.approx(0.382**2))


def test_line_search_tie_evaluates_the_midpoint():
    calls = []

    def phi(t):
        calls.append(t)
        return 1.0  # flat: the first trial ties with f0

    res = authors_line_search(phi, f0=1.0, initial_step=0.4)
    assert calls == [0.4, 0.2] and res.step == 0.2 and res.evaluations == 2


def test_line_search_matches_the_reference_on_random_quadratics():
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        t_star, scale, r = (float(v) for v in torch.rand(3, generator=gen) * torch.tensor([10.0, 5.0, 3.0]))
        r += 0.01
        phi = quadratic_phi(t_star, scale)
        f0 = phi(0.0)
        ref = reference_line_search(phi, f0, r)
        got = authors_line_search(phi, f0=f0, initial_step=0.2 * r)
        assert (got.step, got.value, got.evaluations) == pytest.approx(ref, rel=1e-12)


def test_authors_mode_accepts_uphill_steps_and_counts_them(make_closure):
    """On Rosenbrock from (-1.84, -0.93) the first trial overshoots far; authors' mode moves anyway."""
    w = torch.tensor([-1.84, -0.93], dtype=torch.float64, requires_grad=True)
    opt = LBFGSGSS([w], mode="authors")

    closure = make_closure(opt, lambda: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2)

    for _ in range(30):
        opt.step(closure)
    diag = opt.diagnostics()
    assert diag.uphill_steps >= 1
    assert diag.no_decrease_steps >= diag.uphill_steps
    assert all(nl > l for nl, l, u in zip(diag.new_loss, diag.loss, diag.uphill) if u)
    assert all(math.isfinite(v) for v in diag.new_loss)


def test_bad_mode_is_refused():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="mode='fast'.*authors, safe"):
        LBFGSGSS([w], mode="fast")  # type: ignore[arg-type]


def test_authors_mode_follows_the_transcription_through_uphill_steps_and_resets(make_closure):
    """On Rosenbrock from (-1.84, -0.93) the authors' search moves uphill: the same losses still."""

    def rosen(w):
        return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2

    start = torch.tensor([-1.84, -0.93], dtype=torch.float64)
    expected = reference_run(rosen, start, 40)
    w = start.clone().requires_grad_(True)
    opt = LBFGSGSS([w], mode="authors")

    closure = make_closure(opt, lambda: rosen(w))

    for _ in range(40):
        opt.step(closure)
    diag = opt.diagnostics()
    assert diag.uphill_steps >= 1  # the branches that differ from the safe mode were exercised
    got = diag.new_loss
    assert max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(got, expected)) < 1e-6


def test_vanished_gradient_change_resets_instead_of_raising(make_closure):
    """On a linear loss the gradient never changes, so y = 0 and gamma = s.y / y.y = 0/0.

    The authors' tensor arithmetic turns that into a NaN direction, which their check
    resets; the package must do the same rather than raise ZeroDivisionError (a plain
    float division would).
    """
    from lls_core.lbfgs_gss import two_loop_direction

    g = torch.tensor([1.0, -2.0], dtype=torch.float64)
    r = two_loop_direction(g, [torch.tensor([0.5, 0.5], dtype=torch.float64)],
                           [torch.zeros(2, dtype=torch.float64)], rho_eps=1e-6)
    assert not bool(torch.isfinite(r).all())

    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    c = torch.tensor([1.0, -2.0], dtype=torch.float64)
    opt = LBFGSGSS([w], mode="authors")

    closure = make_closure(opt, lambda: (c * w).sum())

    for _ in range(3):
        opt.step(closure)
    diag = opt.diagnostics()
    assert diag.reset_steps >= 1
    assert bool(torch.isfinite(w).all())
