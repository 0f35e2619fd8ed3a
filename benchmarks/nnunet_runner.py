"""nnU-Net v2 side of ``vs_nnunet.py``: plan, preprocess, train under a wall-clock budget, predict.

Runs inside the benchmark's own nnU-Net virtual environment (``build/nnunet/venv``), never in
radiomark's: it imports nnunetv2 and nothing of radiomark. Arguments come as one JSON file:

    {"raw": ..., "preprocessed": ..., "results": ..., "dataset_id": 501, "configuration": "3d_fullres",
     "budget_s": 1800, "validation": ["case", ...], "test_images": {"case": ".../case_0000.nii.gz"},
     "predictions": ..., "record": ...}

Training uses nnU-Net's own trainer (``nnUNetTrainer``), built directly: its command-line entry
point looks trainers up by importing every trainer module, some of which import timm and
torchvision, and this machine's torchvision does not load beside the CPU build of torch. The
loop is nnU-Net's ``run_training`` with a wall-clock stop checked after every iteration (an epoch
the budget ends is cut short, then validated); after the first epoch the epoch count is set to what
fits the budget, so the polynomial learning-rate schedule still decays to zero.
Prediction: ``nnUNetPredictor`` with Gaussian sliding windows, no test-time mirroring (radiomark
uses none either), one case at a time.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def main(arguments_file: str) -> None:
    arguments = json.loads(Path(arguments_file).read_text())
    for name in ("raw", "preprocessed", "results"):
        os.environ[f"nnUNet_{name}"] = arguments[name]
    os.environ.setdefault("nnUNet_n_proc_DA", "1")  # one augmentation worker: 2 cores only
    import torch
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, plan_experiments, preprocess
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.dataset_name_id_conversion import maybe_convert_to_dataset_name

    dataset_id, configuration = arguments["dataset_id"], arguments["configuration"]
    record: dict = {"configuration": configuration, "torch_threads": torch.get_num_threads()}
    start = time.perf_counter()
    extract_fingerprints([dataset_id], check_dataset_integrity=True)
    plan_experiments([dataset_id])
    preprocess([dataset_id], configurations=(configuration,), num_processes=(1,))
    record["planning_s"] = time.perf_counter() - start
    name = maybe_convert_to_dataset_name(dataset_id)
    preprocessed = Path(arguments["preprocessed"]) / name
    cases = sorted(p.name.removesuffix(".pkl") for p in (preprocessed / f"nnUNetPlans_{configuration}").glob("*.pkl"))
    validation = [c for c in cases if c in set(arguments["validation"])]
    (preprocessed / "splits_final.json").write_text(json.dumps(
        [{"train": [c for c in cases if c not in validation], "val": validation}]))
    plans = json.loads((preprocessed / "nnUNetPlans.json").read_text()) | {"continue_training": False}
    dataset_json = json.loads((preprocessed / "dataset.json").read_text())
    planned = plans["configurations"][configuration]
    record["plans"] = {key: planned.get(key) for key in ("patch_size", "batch_size", "spacing")}

    class BudgetTrainer(nnUNetTrainer):
        def run_training(self) -> None:
            self.on_train_start()
            began = time.perf_counter()
            epoch = self.current_epoch
            self.iterations_done = 0
            while epoch < self.num_epochs and time.perf_counter() - began < arguments["budget_s"]:
                self.on_epoch_start()
                self.on_train_epoch_start()
                outputs = []
                for _ in range(self.num_iterations_per_epoch):  # the budget may end an epoch early
                    outputs.append(self.train_step(next(self.dataloader_train)))
                    self.iterations_done += 1
                    if time.perf_counter() - began >= arguments["budget_s"]:
                        break
                self.on_train_epoch_end(outputs)
                with torch.no_grad():
                    self.on_validation_epoch_start()
                    outputs = [self.validation_step(next(self.dataloader_val))
                               for _ in range(self.num_val_iterations_per_epoch)]
                    self.on_validation_epoch_end(outputs)
                self.on_epoch_end()
                epoch += 1
                if epoch == 1:  # fit the schedule to the budget
                    self.num_epochs = max(2, int(arguments["budget_s"] / (time.perf_counter() - began)))
            self.epochs_done = epoch
            self.on_train_end()

    trainer = BudgetTrainer(plans, configuration, 0, dataset_json, device=torch.device("cpu"))
    trainer.num_iterations_per_epoch = arguments.get("iterations_per_epoch", 25)
    trainer.num_val_iterations_per_epoch = 5
    trainer.num_epochs = 10_000
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.run_training()
    record |= {"training_wall_s": time.perf_counter() - wall, "training_cpu_s": time.process_time() - cpu,
               "epochs": trainer.epochs_done, "iterations": trainer.iterations_done}
    trainer.set_deep_supervision_enabled(False)  # as nnU-Net's own final validation does
    trainer.network.eval()
    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=False,
                                perform_everything_on_device=False, device=torch.device("cpu"), verbose=False,
                                allow_tqdm=False)
    predictor.manual_initialization(trainer.network, trainer.plans_manager, trainer.configuration_manager,
                                    [trainer.network.state_dict()],
                                    trainer.dataset_json, type(trainer).__name__,
                                    trainer.inference_allowed_mirroring_axes)
    out = Path(arguments["predictions"])
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for case, image in arguments["test_images"].items():
        begin = time.perf_counter()
        predictor.predict_from_files_sequential([[image]], [str(out / case)])
        seconds[case] = time.perf_counter() - begin
    record |= {"inference_s": seconds,
               "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    Path(arguments["record"]).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
