"""Python Lightning's side of tests/lightning/checkpoint_interop_test.cpp.

    python ckpt_interop.py prepare OUT
        writes OUT/data.pt ({"train_x", "train_y", "val_x", "val_y"}) and OUT/init.pt
        (the initial state_dict of the step-scheduler model).

    python ckpt_interop.py check_cpp OUT CKPT...
        checkpoints written by lightning.cpp (model CppCkptModel: SGD with momentum
        and StepLR, interval "epoch"). For each CKPT (index i):
          torch.load(CKPT, weights_only=True)            -> "weights_only i ok" or
                                                            "weights_only i error <message>"
          CppCkptModel.load_from_checkpoint(CKPT)        -> "load_from_checkpoint i ok" and
                                                            OUT/py_loaded_i.pt (its state_dict),
                                                            or "load_from_checkpoint i error ..."
          Trainer(max_epochs=3).fit(model, ckpt_path=CKPT)
              -> "resume i <epoch> <global_step> at on_train_start, then at the end"
                 and OUT/py_resumed_i.pt (the final state_dict), or "resume i error ..."

    python ckpt_interop.py python_fit OUT
        writes data.pt and init.pt (model PyCkptModel: SGD with momentum and OneCycleLR,
        interval "step"), fits 2 epochs with a ModelCheckpoint (OUT/py_ckpts) and saves
        OUT/py_post.ckpt after the fit; prints "ckpt 0 <ModelCheckpoint file>" and
        "ckpt 1 <OUT/py_post.ckpt>". Then resumes each for one more epoch (max_epochs=3):
        "resume i ..." as above and OUT/py_resumed_i.pt.

Results go to stdout, one line each; everything else to stderr. CPU, one thread,
no shuffling. 32 training samples in batches of 8 (4 optimizer steps an epoch),
16 validation samples in batches of 8.
"""

import os
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import pytorch_lightning as pl  # noqa: E402
from pytorch_lightning.callbacks import ModelCheckpoint  # noqa: E402


class _Base(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.net(x), y))


class CppCkptModel(_Base):
    """Twin of the C++ module that writes the checkpoints."""

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return [opt], [sched]


class PyCkptModel(_Base):
    """Twin of the C++ module that resumes from Python's checkpoints."""

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=12)
        return [opt], [{"scheduler": sched, "interval": "step"}]


class StartRecorder(pl.Callback):
    def __init__(self):
        self.start = None

    def on_train_start(self, trainer, pl_module):
        self.start = (trainer.current_epoch, trainer.global_step)


def emit(*words):
    print(*words, flush=True)


def prepare(out, model_cls):
    gen = torch.Generator().manual_seed(99)
    data = {
        "train_x": torch.randn(32, 8, generator=gen),
        "train_y": torch.randint(0, 3, (32,), generator=gen),
        "val_x": torch.randn(16, 8, generator=gen),
        "val_y": torch.randint(0, 3, (16,), generator=gen),
    }
    torch.save(data, os.path.join(out, "data.pt"))
    torch.manual_seed(3)
    torch.save(model_cls().state_dict(), os.path.join(out, "init.pt"))
    return data


def loaders(data):
    train = DataLoader(TensorDataset(data["train_x"], data["train_y"]), batch_size=8)
    val = DataLoader(TensorDataset(data["val_x"], data["val_y"]), batch_size=8)
    return train, val


def trainer(out, max_epochs, callbacks, checkpointing=False):
    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=checkpointing,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=out,
        callbacks=callbacks,
    )


def one_line(error):
    return " ".join(f"{type(error).__name__}: {error}".split())[:2000]


def resume(out, index, model_cls, data, ckpt):
    recorder = StartRecorder()
    model = model_cls()
    t = trainer(out, 3, [recorder])
    train, val = loaders(data)
    try:
        t.fit(model, train, val, ckpt_path=ckpt)
    except Exception as e:
        emit("resume", index, "error", one_line(e))
        return
    emit("resume", index, *recorder.start, t.current_epoch, t.global_step)
    torch.save(model.state_dict(), os.path.join(out, f"py_resumed_{index}.pt"))


def check_cpp(out, ckpts):
    data = torch.load(os.path.join(out, "data.pt"), weights_only=True)
    for i, ckpt in enumerate(ckpts):
        try:
            torch.load(ckpt, weights_only=True)
            emit("weights_only", i, "ok")
        except Exception as e:  # the message names the global the safe loader rejects
            emit("weights_only", i, "error", one_line(e))
        try:
            loaded = CppCkptModel.load_from_checkpoint(ckpt)
            torch.save(loaded.state_dict(), os.path.join(out, f"py_loaded_{i}.pt"))
            emit("load_from_checkpoint", i, "ok")
        except Exception as e:
            emit("load_from_checkpoint", i, "error", one_line(e))
        resume(out, i, CppCkptModel, data, ckpt)


def python_fit(out):
    data = prepare(out, PyCkptModel)
    torch.manual_seed(3)
    model = PyCkptModel()
    model.load_state_dict(torch.load(os.path.join(out, "init.pt"), weights_only=True))
    checkpoint = ModelCheckpoint(dirpath=os.path.join(out, "py_ckpts"))
    t = trainer(out, 2, [checkpoint], checkpointing=True)
    train, val = loaders(data)
    t.fit(model, train, val)
    post = os.path.join(out, "py_post.ckpt")
    t.save_checkpoint(post)
    ckpts = [checkpoint.best_model_path, post]
    for i, ckpt in enumerate(ckpts):
        emit("ckpt", i, ckpt)
    for i, ckpt in enumerate(ckpts):
        resume(out, i, PyCkptModel, data, ckpt)


def main():
    torch.set_num_threads(1)
    command, out = sys.argv[1], sys.argv[2]
    if command == "prepare":
        prepare(out, CppCkptModel)
        emit("ok")
    elif command == "check_cpp":
        check_cpp(out, sys.argv[3:])
    elif command == "python_fit":
        python_fit(out)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
