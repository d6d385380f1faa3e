"""crowdgui/training/options.py: the dialog's choices become exactly the engine's command line."""

from crowdgui.training.options import TrainOptions, resume_args, split_counts
from engine.dataset import Dataset
from engine.dataset.synthetic import write_synthetic_dataset


def test_epoch_budget_and_engine_defaults_left_out(tmp_path):
    args = TrainOptions(model="unet", epochs=3, device="cpu", val_fraction=0.25).engine_args(tmp_path, tmp_path / "r")
    assert args[:6] == ["train", str(tmp_path), "--model", "unet", "--out", str(tmp_path / "r")]
    assert args[args.index("--epochs") + 1] == "3" and "--minutes" not in args
    assert args[args.index("--val-fraction") + 1] == "0.25"
    # lr, batch, crop and width at None are the engine's business.
    for flag in ("--lr", "--batch", "--crop", "--width", "--beta", "--k"):
        assert flag not in args


def test_time_budget_adaptive_sigma_and_explicit_numbers(tmp_path):
    options = TrainOptions(budget="minutes", minutes=2.5, lr=3e-4, batch=4, crop=64, width=8,
                           sigma_mode="adaptive", sigma=3.0, beta=0.3, k=4, seed=7)
    args = options.engine_args("D", "R")
    pairs = {flag: args[i + 1] for i, flag in enumerate(args[:-1]) if flag.startswith("--")}
    assert pairs["--minutes"] == "2.5" and "--epochs" not in args
    assert pairs["--lr"] == "0.0003" and pairs["--batch"] == "4" and pairs["--crop"] == "64"
    assert pairs["--width"] == "8" and pairs["--sigma-mode"] == "adaptive"
    assert pairs["--sigma"] == "3" and pairs["--beta"] == "0.3" and pairs["--k"] == "4" and pairs["--seed"] == "7"


def test_saved_options_survive_bad_values():
    saved = TrainOptions(model="csrnet", budget="minutes", minutes=12, lr=1e-5, crop=None).to_dict()
    assert TrainOptions.from_dict(saved) == TrainOptions(model="csrnet", budget="minutes", minutes=12, lr=1e-5)
    broken = TrainOptions.from_dict({"epochs": "many", "budget": "forever", "lr": "", "sigma_mode": "x",
                                     "unknown": 1})
    assert broken.epochs == TrainOptions().epochs and broken.budget == "epochs"
    assert broken.lr is None and broken.sigma_mode == "fixed"


def test_unlabeled_option_becomes_the_engine_flag_the_engine_understands():
    import argparse

    from engine.commands import train as train_command

    args = TrainOptions(unlabeled=True).engine_args("D", "R")
    assert args.count("--unlabeled") == 1 and "--unlabeled" not in TrainOptions().engine_args("D", "R")
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    assert train_command.build_config(parser.parse_args(args[1:])).unlabeled is True
    assert train_command.build_config(parser.parse_args(TrainOptions().engine_args("D", "R")[1:])).unlabeled is False
    assert TrainOptions.from_dict(TrainOptions(unlabeled=True).to_dict()).unlabeled is True


def test_resume_args_name_the_run_folder():
    assert resume_args("D", "D/crowdgui_runs/x", "fcrn_a", "cpu") == [
        "train", "D", "--model", "fcrn_a", "--out", "D/crowdgui_runs/x", "--resume", "--device", "cpu"]


def test_split_counts_follow_the_fraction_without_saving_it(tmp_path):
    folder = write_synthetic_dataset(tmp_path / "d", images=10, size=(32, 32), counts=(1, 3), annotate=8)
    dataset = Dataset(folder)
    none_val = split_counts(dataset, 0.0)
    assert none_val == {"train": 8, "val": 0, "test": 0, "unlabeled": 2}
    most_val = split_counts(dataset, 0.9)
    assert most_val["train"] + most_val["val"] == 8 and most_val["val"] > 0
    assert dataset.settings.val_fraction == 0.2  # the dataset's own setting is untouched
    assert not (folder / "crowdgui.json").exists()


def test_loss_option_becomes_the_engine_flag_and_survives_saving():
    import argparse

    from engine.commands import train as train_command

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    args = TrainOptions(loss="bayesian").engine_args("D", "R")
    assert train_command.build_config(parser.parse_args(args[1:])).loss == "bayesian"
    assert TrainOptions.from_dict(TrainOptions(loss="dmcount").to_dict()).loss == "dmcount"
    assert TrainOptions.from_dict({"loss": "l2"}).loss == "mse"
