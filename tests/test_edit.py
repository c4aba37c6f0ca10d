"""Latent editing (apps/edit.py): directions are unit vectors that do what they say; a class edit
of a conditional run changes what the judge reads."""

import pytest
import torch

from conftest import TINY_IMAGES
from ganforge import api
from ganforge.apps.edit import (change_class, class_directions, direction, edit, find_directions, load_directions,
                                principal_directions)
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluators import class_reader


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for name, extra in (("plain", ["train.steps=150"]), ("cond", ["train.steps=10", "model.conditional=true"])):
        d = tmp_path_factory.mktemp(name)
        api.train(load_config("digits", TINY_IMAGES + [ "doctor.enabled=false", "eval.n_samples=20",
                                                       "model.g_width=8", "model.d_width=8", *extra]), out=d)
        out[name] = (d, api.load_run(d))
    return out


def test_the_first_principal_direction_moves_the_output_most(runs):
    _, run = runs["plain"]
    dirs = principal_directions(run, k=4, n=500)
    assert all(abs(float(d.norm()) - 1) < 1e-5 for d in dirs.values())
    z = run.prior.sample(64, torch.Generator().manual_seed(1))
    moved = {name: (edit(run, z, d, [1.0]) - edit(run, z, d, [-1.0])).pow(2).mean().item() for name, d in dirs.items()}
    random_d = torch.randn(z.shape[1], generator=torch.Generator().manual_seed(2))
    random_d /= random_d.norm()
    rand = (edit(run, z, random_d, [1.0]) - edit(run, z, random_d, [-1.0])).pow(2).mean().item()
    assert moved["pc0"] > rand and moved["pc0"] >= max(moved["pc2"], moved["pc3"])


def test_a_class_direction_makes_its_class_more_likely(runs):
    _, run = runs["plain"]
    dirs = class_directions(run, n=1000)
    assert dirs, "the judge should read at least one class often enough to fit"
    name = next(iter(dirs))
    k = int(name.split("_")[1])
    clf = class_reader(run.data)
    z = run.prior.sample(200, torch.Generator().manual_seed(3))
    p = lambda x: torch.softmax(clf.logits(x), 1)[:, k].mean().item()  # noqa: E731
    assert p(edit(run, z, dirs[name], [3.0])) > p(edit(run, z, dirs[name], [0.0])) > p(edit(run, z, dirs[name], [-3.0]))


def test_directions_are_saved_and_names_checked(runs):
    d, run = runs["plain"]
    with pytest.raises(GanforgeError, match="ganforge directions"):
        load_directions(d)
    dirs = find_directions(run, d, k=3, n=300)
    assert set(load_directions(d)) == set(dirs) and {"pc0", "pc1", "pc2"} <= set(dirs)
    with pytest.raises(GanforgeError, match="choose one of: .*pc0"):
        direction(dirs, "smile")


class _ClassRenderer(torch.nn.Module):
    """A stand-in conditional G: G(z, y) is a real held-out digit of class y, the one z picks
    (in model space). It learns nothing; it tells whether an edit passes the class and keeps z."""

    def __init__(self, data):
        super().__init__()
        images, labels = data.holdout
        self.by_class = [data.encode(images[labels == k].float() / 255) for k in range(10)]
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # so that it has a device

    def forward(self, z, y):
        idx = (z[:, 0].abs() * 1000).long()
        return torch.stack([self.by_class[k][i % len(self.by_class[k])] for i, k in zip(idx.tolist(), y.tolist())])


def test_a_class_edit_keeps_z_and_the_judge_reads_the_new_class(runs):
    _, run = runs["cond"]
    stand_in = type(run)(run.cfg, _ClassRenderer(run.data), run.prior, run.data, run.step, run.n_classes)
    clf = class_reader(run.data)
    z = run.prior.sample(100, torch.Generator().manual_seed(4))
    for k in (2, 7):
        read = clf.logits(change_class(stand_in, z, k)).argmax(1)
        assert (read == k).float().mean() > 0.9
    same = change_class(stand_in, z, 7)
    assert torch.equal(same, change_class(stand_in, z, 7))  # z is kept: the same images again
    with pytest.raises(GanforgeError, match="0..9"):
        change_class(run, z, 10)
    with pytest.raises(GanforgeError, match="not conditional"):
        change_class(runs["plain"][1], z, 1)
