"""The training objective, one optimization step, and resuming a run where it stopped."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import DATA, DEJAVU

from recognizer import CLIP4STR, CLIP4STRConfig
from recognizer.clip_backbone import SMALL_CONV
from recognizer.training.objective import PermutationObjective, factorization_orders, order_masks
from recognizer.training.trainer import Trainer, build_parser

# The shipped model's shape (conv stem, 32x128), one block wide 48: steps take milliseconds.
TINY = replace(
    SMALL_CONV,
    embed_dim=48,
    vision_width=48,
    vision_layers=1,
    vision_heads=1,
    vision_mlp_ratio=2.0,
    text_width=48,
    text_layers=1,
    text_heads=1,
    text_mlp_ratio=2.0,
)


def test_orders_start_left_to_right_then_end_first_then_mirrored_pairs():
    orders = factorization_orders(5, 6, torch.Generator().manual_seed(0))
    assert orders.shape == (6, 7)
    assert orders[0].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert orders[1].tolist() == [0, 6, 5, 4, 3, 2, 1]
    assert orders[3, 1:-1].tolist() == orders[2, 1:-1].flip(0).tolist()
    for order in orders:
        assert sorted(order.tolist()) == list(range(7)) and order[0] == 0


def test_left_to_right_order_gives_causal_masks():
    content, query = order_masks(torch.arange(5), "cpu")
    causal = torch.triu(torch.full((4, 4), float("-inf")), 1)
    assert torch.equal(query, causal)
    assert torch.equal(content, causal)


def test_training_steps_lower_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = CLIP4STR(CLIP4STRConfig(clip=TINY, decoder_heads=2, max_label_length=8))
    objective = PermutationObjective(model, num_orders=4, ctc_weight=0.5)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=3e-3)
    images = torch.randn(6, 3, 32, 128)
    labels = ["cat", "Dog", "42", "a", "tree.", "HOUSE"]
    losses = []
    for _ in range(25):
        parts = objective(images, labels)
        optimizer.zero_grad()
        parts.total.backward()
        optimizer.step()
        losses.append(float(parts.total.detach()))
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3])


@pytest.fixture
def small_trainer_args(tmp_path, monkeypatch):
    import recognizer.training.trainer as train

    if not DEJAVU.is_dir():
        pytest.skip(
            "DejaVu fonts missing: run recognizer/training/synth/install_training_assets.sh"
        )
    monkeypatch.setattr(train, "SMALL_CONV", TINY)
    return build_parser().parse_args(
        [
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "6",
            "--batch-size",
            "4",
            "--checkpoint-every",
            "2",
            "--log-every",
            "1",
            "--orders",
            "2",
            "--threads",
            "1",
            "--font-dirs",
            str(DEJAVU),
        ]
    )


@pytest.mark.slow
def test_a_stopped_run_resumes_from_its_last_checkpoint(small_trainer_args, monkeypatch):
    first = Trainer(small_trainer_args)
    monkeypatch.setattr(Trainer, "_should_stop", lambda self, deadline: self.step >= 3)
    first.run()
    saved = {k: v.clone() for k, v in first.model.state_dict().items()}
    assert first.step == 3

    monkeypatch.undo()  # back to stopping only at the end
    import recognizer.training.trainer as train

    monkeypatch.setattr(train, "SMALL_CONV", TINY)
    second = Trainer(small_trainer_args)
    assert second.step == 3 and second.samples_seen == 12
    for key, value in second.model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    assert second.optimizer.state_dict()["state"], "optimizer moments must be restored"
    assert second.scheduler.last_epoch == 3
    second.run()
    assert second.step == 6
    log = (second.out / "train.log").read_text()
    assert "resumed from" in log and "stopped at step 6" in log


def test_a_run_resumed_with_more_steps_follows_the_longer_schedule(small_trainer_args):
    first = Trainer(small_trainer_args)
    for _ in range(3):
        first.optimizer.step()
        first.scheduler.step()
        first.step += 1
    first.save()
    moments = first.optimizer.state_dict()["state"]

    small_trainer_args.steps = 12
    longer = Trainer(small_trainer_args)
    assert longer.step == 3 and longer.scheduler.total_steps == 12
    assert longer.optimizer.state_dict()["state"].keys() == moments.keys()
    reference = Trainer(
        build_parser().parse_args(
            ["--out", str(small_trainer_args.out) + "-fresh", "--steps", "12", "--orders", "2"]
        )
    )
    for _ in range(3):
        reference.optimizer.step()
        reference.scheduler.step()
    assert longer.scheduler.get_last_lr() == pytest.approx(reference.scheduler.get_last_lr())
    assert longer.scheduler.get_last_lr() != pytest.approx(first.scheduler.get_last_lr())
    log = (longer.out / "train.log").read_text()
    assert "schedule changed from 6 to 12 steps" in log

    small_trainer_args.steps = 2
    with pytest.raises(SystemExit, match="past --steps 2"):
        Trainer(small_trainer_args)


def test_bf16_training_autocasts_the_forward_pass_and_keeps_fp32_weights(small_trainer_args):
    small_trainer_args.precision = "bf16"
    trainer = Trainer(small_trainer_args)
    seen = []
    first_linear = trainer.model.clip_model.visual.transformer.resblocks[0].mlp.c_fc
    first_linear.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    before = first_linear.weight.detach().clone()
    images = torch.randn(4, 3, *trainer.model.config.image_size)
    parts = trainer._train_step(images, ["shop", "OPEN", "24h", "exit"])

    assert seen == [torch.bfloat16]
    assert torch.isfinite(parts.total)
    assert first_linear.weight.dtype == torch.float32
    assert not torch.equal(first_linear.weight, before)


def test_a_run_started_from_an_export_keeps_the_trained_ctc_head(small_trainer_args, tmp_path):
    from recognizer.training.export import export

    first = Trainer(small_trainer_args)
    with torch.no_grad():
        for value in first.objective.ctc_head.parameters():
            value.add_(0.5)  # stands in for trained weights
    trained = {k: v.clone() for k, v in first.objective.ctc_head.state_dict().items()}
    first.export_best(0.5)
    shipped = export(first.out, tmp_path / "shipped")
    assert (shipped / "ctc_head.safetensors").is_file()

    small_trainer_args.out = str(tmp_path / "next-run")
    small_trainer_args.init = str(shipped)
    follow_up = Trainer(small_trainer_args)
    for key, value in follow_up.objective.ctc_head.state_dict().items():
        assert torch.equal(value, trained[key]), key
    assert "CTC head loaded from" in (follow_up.out / "train.log").read_text()
    follow_up.save()
    resumed = Trainer(small_trainer_args)  # same --out: last.pt, not --init, gives the head
    log = (resumed.out / "train.log").read_text()
    assert log.count("CTC head loaded from") == 1 and "resumed from" in log

    (shipped / "ctc_head.safetensors").unlink()
    small_trainer_args.out = str(tmp_path / "third-run")
    fresh = Trainer(small_trainer_args)
    assert not torch.equal(fresh.objective.ctc_head.proj.weight, trained["proj.weight"])
    assert "starts from random weights" in (fresh.out / "train.log").read_text()


@pytest.mark.slow
def test_a_run_with_relative_folders_trains_on_its_real_crops(
    small_trainer_args, tmp_path, monkeypatch
):
    # As the README writes it: --out runs/NAME --real ../shared/data/real_train, both
    # relative to the working folder (the crops' label file is not relative to the crops).
    crops = tmp_path / "crops"
    crops.mkdir()
    (crops / "images").symlink_to(DATA / "real_train" / "images")
    rows = (DATA / "real_train" / "labels.tsv").read_text().splitlines()[:24]
    (crops / "labels.tsv").write_text("\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    small_trainer_args.out, small_trainer_args.real = "run", "crops"
    small_trainer_args.val_size, small_trainer_args.steps = 4, 2
    small_trainer_args.real_phases = "0:0.5"
    trainer = Trainer(small_trainer_args)
    trainer.run()
    assert trainer.step == 2
    log = (tmp_path / "run" / "train.log").read_text()
    assert "step 2 validation accuracy" in log
    assert len((tmp_path / "run" / "real_val_split.tsv").read_text().splitlines()) == 4


def test_real_phases_set_the_share_of_real_crops_over_the_run():
    from recognizer.training.trainer import Schedule, parse_real_phases

    schedule = Schedule(1000, real_phases=parse_real_phases("0:0.2,0.85:0.5"))
    assert [schedule.real_ratio(s) for s in (0, 849, 850, 999)] == [0.2, 0.2, 0.5, 0.5]
    default = build_parser().parse_args(["--out", "x"])
    default_schedule = Schedule(1000, real_phases=parse_real_phases(default.real_phases))
    assert [default_schedule.real_ratio(s) for s in (0, 100, 900)] == [0.0, 0.2, 0.5]
    for bad in ("0.1:0.2", "0:0.2,0.5", "0:1.5", "0:0.2,0.9:0.5,0.3:0.1"):
        with pytest.raises(SystemExit, match="--real-phases"):
            parse_real_phases(bad)


def test_the_weight_average_moves_towards_the_trained_weights_and_copies_buffers():
    from recognizer.training.trainer import WeightAverage

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    start = model[0].weight.detach().clone()
    average = WeightAverage(model, decay=0.1)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model.train()(torch.randn(8, 3))  # moves the BatchNorm running statistics
    average.update(model)

    assert average.current_decay() == pytest.approx(0.1)
    assert torch.allclose(average.model[0].weight, start + 0.9)
    assert torch.equal(average.model[1].running_mean, model[1].running_mean)
    assert not any(p.requires_grad for p in average.model.parameters())

    slow = WeightAverage(model, decay=0.999)
    assert slow.current_decay() == pytest.approx(1 / 10)  # warm-up: early steps count more
    with pytest.raises(SystemExit, match="--ema 1.5"):
        WeightAverage(model, decay=1.5)


def test_a_run_with_a_weight_average_exports_the_better_of_the_two_and_resumes_it(
    small_trainer_args, monkeypatch
):
    import json

    small_trainer_args.ema = 0.9
    trainer = Trainer(small_trainer_args)
    images = torch.randn(4, 3, *trainer.model.config.image_size)
    for _ in range(2):
        trainer._train_step(images, ["shop", "OPEN", "24h", "exit"])
    trained = trainer.model.clip_model.visual.proj
    averaged = trainer.average.model.clip_model.visual.proj
    assert not torch.equal(trained, averaged)

    scores = {id(trainer.model): 0.25, id(trainer.average.model): 0.5}
    monkeypatch.setattr(
        Trainer, "validate", lambda self, val, model=None: scores[id(model or self.model)]
    )
    trainer._evaluate(trainer.out / "unused.tsv")
    info = json.loads((trainer.out / "best" / "training.json").read_text())
    assert trainer.best == 0.5 and info["weights"] == "average (decay 0.9)"
    exported = CLIP4STR.from_checkpoint(trainer.out / "best", trust_checkpoint=False)
    assert torch.equal(exported.clip_model.visual.proj, averaged)
    assert "validation accuracy 0.2500 average 0.5000" in (trainer.out / "train.log").read_text()

    resumed = Trainer(small_trainer_args)
    assert resumed.average.updates == 2
    assert torch.equal(resumed.average.model.clip_model.visual.proj, averaged)


def test_a_grown_image_tower_reads_as_before_then_trains_and_resumes_its_new_blocks(
    small_trainer_args, tmp_path
):
    from recognizer.training.objective import grow_image_tower

    torch.manual_seed(0)
    small = CLIP4STR(CLIP4STRConfig(clip=TINY, decoder_heads=2)).eval()
    grown = grow_image_tower(small, 2)
    assert grown.config.clip.vision_layers == TINY.vision_layers + 2
    assert not grown.training
    images = torch.randn(3, 3, *small.config.image_size)
    with torch.no_grad():
        assert torch.allclose(grown(images), small(images), atol=1e-6)
    with pytest.raises(ValueError, match="at least 1"):
        grow_image_tower(small, 0)

    small.save_pretrained(tmp_path / "init")
    small_trainer_args.init = str(tmp_path / "init")
    small_trainer_args.grow_image_layers = 2
    trainer = Trainer(small_trainer_args)
    new_block = trainer.model.clip_model.visual.transformer.resblocks[-1]
    assert not new_block.mlp.c_proj.weight.any()
    trainer._train_step(images, ["shop", "OPEN", "24h"])
    assert new_block.mlp.c_proj.weight.any(), "the new blocks must learn"
    trainer.save()
    trainer.model.save_pretrained(tmp_path / "init")  # --init replaced by this run's export
    resumed = Trainer(small_trainer_args)  # takes its shape from last.pt, grows nothing
    assert resumed.model.config.clip.vision_layers == TINY.vision_layers + 2
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, trainer.model.state_dict()[key]), key
    assert "grown by 2 identity blocks to 3" in (trainer.out / "train.log").read_text()

    small_trainer_args.init = None
    small_trainer_args.out = str(tmp_path / "fresh-run")
    with pytest.raises(SystemExit, match="needs --init"):
        Trainer(small_trainer_args)


def test_a_run_from_init_can_fit_crops_otherwise_and_resumes_so(small_trainer_args, tmp_path):
    Trainer(small_trainer_args).model.save_pretrained(tmp_path / "init")
    small_trainer_args.out = str(tmp_path / "padded")
    small_trainer_args.init = str(tmp_path / "init")
    small_trainer_args.resize = "keep_aspect"
    padded = Trainer(small_trainer_args)
    assert padded.model.config.resize == "keep_aspect"
    assert (
        "crops fitted to the input: stretch -> keep_aspect"
        in (padded.out / "train.log").read_text()
    )
    padded.save()
    small_trainer_args.resize = None
    assert Trainer(small_trainer_args).model.config.resize == "keep_aspect"  # from last.pt
    small_trainer_args.resize = "stretch"  # not what last.pt was trained on
    with pytest.raises(SystemExit, match="fits crops by 'keep_aspect', not --resize stretch"):
        Trainer(small_trainer_args)


def test_a_run_from_scratch_fits_crops_as_asked(small_trainer_args, tmp_path):
    small_trainer_args.resize = "keep_aspect"
    assert Trainer(small_trainer_args).model.config.resize == "keep_aspect"
