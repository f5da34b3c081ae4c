"""Training recipes on a toy model and toy batches: the registry, supervised = the configured loss, and the mean
teacher's EMA teacher, ramped consistency weight and use of unlabelled rows."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sedrepro.io import InputError
from sedrepro.losses import Loss
from sedrepro.models import probabilities
from sedrepro.recipes import RECIPES, MeanTeacher, sigmoid_rampup

MT = {"ema_decay": 0.9, "consistency_weight": 3.0, "rampup_steps": 4, "scored": "teacher"}


class Toy(nn.Module):
    """Per-frame linear map (B, T, F) -> {"strong": (B, T, C)}."""

    def __init__(self, f: int = 4, c: int = 2) -> None:
        super().__init__()
        self.lin = nn.Linear(f, c)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"strong": self.lin(x)}


def batch(mask: list[bool], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    b = len(mask)
    return {
        "features": torch.randn(b, 5, 4, generator=gen),
        "strong": (torch.rand(b, 5, 2, generator=gen) < 0.5).float(),
        "mask_strong": torch.tensor(mask),
    }


def make(name: str, scored: str = "teacher", **over) -> tuple[nn.Module, object]:
    torch.manual_seed(0)
    model = Toy()
    return model, RECIPES.get(name)(
        model, Loss.from_config(None, "strong"), {"mean_teacher": {**MT, "scored": scored, **over}}
    )


def test_registry_names_and_unknown_recipe():
    assert {"supervised", "mean_teacher"} <= set(RECIPES.names())
    with pytest.raises(
        InputError,
        match=r"^config key 'training/recipe': expected a registered recipe \(.*mean_teacher"
        r".*supervised.*\), found 'fixmatch'$",
    ):
        RECIPES.get("fixmatch", "config key 'training/recipe'")


def test_mean_teacher_needs_its_settings():
    with pytest.raises(
        InputError, match="config key 'training/mean_teacher': expected the mean_teacher recipe's settings"
    ):
        RECIPES.get("mean_teacher")(Toy(), Loss.from_config(None, "strong"), {})


def test_supervised_is_the_configured_loss():
    model, recipe = make("supervised")
    b = batch([True, True, True])
    loss, outputs = recipe.objective(b)
    assert torch.equal(loss, torch.nn.BCEWithLogitsLoss()(model(b["features"])["strong"], b["strong"]))
    assert recipe.scored is model and recipe.state_dict() == {}


def test_rampup_shape():
    assert sigmoid_rampup(0, 0) == 1.0 and sigmoid_rampup(5, 0) == 1.0
    assert sigmoid_rampup(0, 10) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(5, 10) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(10, 10) == sigmoid_rampup(99, 10) == 1.0


def test_teacher_follows_the_ema_formula_and_the_weight_ramps():
    """After step 1 the teacher copies the student; after each later step teacher = d * teacher + (1 - d) * student;
    the consistency weight is w * exp(-5 (1 - step / rampup)^2) at the step about to be taken."""
    model, recipe = make("mean_teacher")
    assert isinstance(recipe, MeanTeacher)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    expected = None
    weights = []
    for step in range(6):
        weights.append(recipe.consistency_weight())
        loss, _ = recipe.objective(batch([True, False, True], seed=step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        recipe.after_step()
        student = {k: v.detach().clone() for k, v in model.state_dict().items()}
        expected = student if expected is None else {k: 0.9 * expected[k] + 0.1 * student[k] for k in student}
        teacher = recipe.teacher.module.state_dict()
        for k in student:
            torch.testing.assert_close(teacher[k], expected[k], rtol=1e-6, atol=1e-7)
        assert not torch.equal(teacher["lin.weight"], student["lin.weight"]) or step == 0
    assert weights == pytest.approx([3.0 * sigmoid_rampup(s, 4) for s in range(6)])
    assert weights[0] < weights[2] < weights[4] == weights[5] == 3.0
    assert recipe.scored is recipe.teacher.module
    m, r = make("mean_teacher", scored="student")
    assert r.scored is m


def test_unlabelled_rows_contribute_only_consistency():
    """The gradient a row sends to the student: for an unlabelled row exactly that of the consistency term (the
    supervised term never sees it, whatever its targets hold); a labelled row gets both."""
    model, recipe = make("mean_teacher", rampup_steps=0)
    b = batch([True, False, True, False])
    b2 = {**b, "strong": b["strong"].clone()}
    b2["strong"][~b["mask_strong"]] = 1 - b2["strong"][~b["mask_strong"]]  # other targets on unlabelled rows
    x = b["features"].clone().requires_grad_(True)
    loss, _ = recipe.objective({**b, "features": x})
    (g,) = torch.autograd.grad(loss, x)
    x2 = b["features"].clone().requires_grad_(True)
    loss2, _ = recipe.objective({**b2, "features": x2})
    (g2,) = torch.autograd.grad(loss2, x2)
    assert torch.equal(loss, loss2) and torch.equal(g, g2)

    # the consistency term alone, by hand
    xc = b["features"].clone().requires_grad_(True)
    with torch.no_grad():
        teacher = probabilities("strong", recipe.teacher(b["features"])["strong"])
    cons = 3.0 * torch.nn.functional.mse_loss(probabilities("strong", model(xc)["strong"]), teacher)
    (gc,) = torch.autograd.grad(cons, xc)
    unl = ~b["mask_strong"]
    torch.testing.assert_close(g[unl], gc[unl], rtol=1e-6, atol=1e-8)
    assert (g[~unl] - gc[~unl]).abs().sum() > 0  # labelled rows also carry the supervised term


def test_state_round_trip():
    model, recipe = make("mean_teacher")
    loss, _ = recipe.objective(batch([True, True]))
    loss.backward()
    recipe.after_step()
    recipe.after_step()
    state = recipe.state_dict()
    _, other = make("mean_teacher")
    other.load_state_dict(state)
    assert other.steps == 2 and int(other.teacher.n_averaged) == 2
    for k, v in recipe.teacher.state_dict().items():
        assert torch.equal(other.teacher.state_dict()[k], v)
