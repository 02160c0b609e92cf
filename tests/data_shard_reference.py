#!/usr/bin/python3
"""Reference shards for tests/data_shard_test.cpp.

Writes, for each case below, the sample indices that PyTorch 1.13's
torch.utils.data.DistributedSampler yields on every rank after set_epoch(E);
the C++ test compares them with DataLoader::with_shard on a dataset whose
sample i is i.

Re-run (Debian's python, which has torch 1.13; the `python3` on PATH may not):

    /usr/bin/python3 tests/data_shard_reference.py > tests/data_shard_reference.txt

File format, one record a line, fields separated by single spaces:

    KIND N REPLICAS RANK SHUFFLE SEED EPOCH : INDEX INDEX ...

KIND `pad` is DistributedSampler(range(N), num_replicas=REPLICAS, rank=RANK,
shuffle=SHUFFLE, seed=SEED, drop_last=False) after set_epoch(EPOCH), listed
in iteration order. KIND `nopad` is the unpadded cut lightning.cpp uses for
evaluation, which torch has no sampler for: the same epoch order as
DistributedSampler draws it, then order[RANK::REPLICAS]. SHUFFLE is 0 or 1.
"""

import sys

import torch
from torch.utils.data import DistributedSampler

# (n, num_replicas, seeds, epochs): n divisible by R, not divisible, n < R
# with padding shorter than n and longer than n (torch's two padding
# branches), and one replica.
CASES = [
    (12, 4, [0], [0, 1]),
    (10, 3, [0, 42], [0, 1, 5]),
    (103, 8, [1234], [0, 3]),
    (2, 4, [7], [0, 2]),
    (1, 4, [0], [0]),
    (3, 8, [5], [0, 1]),
    (9, 1, [3], [0, 4]),
]


def epoch_order(n, shuffle, seed, epoch):
    # DistributedSampler.__iter__ before padding (torch 1.13).
    if shuffle:
        g = torch.Generator()
        g.manual_seed(seed + epoch)
        return torch.randperm(n, generator=g).tolist()
    return list(range(n))


def main():
    out = sys.stdout
    for n, replicas, seeds, epochs in CASES:
        for shuffle in (False, True):
            for seed in seeds:
                for epoch in epochs:
                    for rank in range(replicas):
                        sampler = DistributedSampler(range(n), num_replicas=replicas, rank=rank,
                                                     shuffle=shuffle, seed=seed, drop_last=False)
                        sampler.set_epoch(epoch)
                        pad = list(sampler)
                        assert len(pad) == len(sampler)
                        nopad = epoch_order(n, shuffle, seed, epoch)[rank::replicas]
                        head = f"{n} {replicas} {rank} {int(shuffle)} {seed} {epoch} :"
                        out.write(f"pad {head} {' '.join(map(str, pad))}\n".replace(" \n", "\n"))
                        out.write(f"nopad {head} {' '.join(map(str, nopad))}\n".replace(" \n", "\n"))


if __name__ == "__main__":
    main()
