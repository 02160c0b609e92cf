#!/usr/bin/env bash
# Two "hosts" on this machine: network namespaces joined by a veth pair
# (10.231.<n>.1 and .2), one DDP rank in each, started with torchrun's
# variables (num_nodes=2, devices=1): the rendezvous and every collective go
# over the veth addresses, not loopback. Both ranks must exit 0 with identical
# final parameters.
#
#   netns_hosts.sh path/to/trainer_ddp_worker
#
# Creating namespaces needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN): without it
# the script says so and exits 77, which ctest reports as skipped.
set -euo pipefail
worker=$1
id=$$
ns0=lt_ddp0_$id
ns1=lt_ddp1_$id
net=10.231.$((id % 250)).
if ! ip netns add "$ns0" 2>/dev/null; then
  echo "SKIPPED: cannot create a network namespace here (needs root with CAP_SYS_ADMIN)"
  exit 77
fi
out=$(mktemp -d)
cleanup() {
  ip netns pids "$ns0" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns pids "$ns1" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$ns0" 2>/dev/null || true
  ip netns del "$ns1" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
ip netns add "$ns1"
ip link add "lta$id" type veth peer name "ltb$id"
ip link set "lta$id" netns "$ns0"
ip link set "ltb$id" netns "$ns1"
ip -n "$ns0" addr add "${net}1/24" dev "lta$id"
ip -n "$ns1" addr add "${net}2/24" dev "ltb$id"
for ns in "$ns0" "$ns1"; do ip -n "$ns" link set lo up; done
ip -n "$ns0" link set "lta$id" up
ip -n "$ns1" link set "ltb$id" up
# The two namespaces see each other only over the veth pair (no route to
# anything else): the rendezvous below can only work over it.

run_rank() {
  local ns=$1 rank=$2
  ip netns exec "$ns" env MASTER_ADDR="${net}1" MASTER_PORT=29531 WORLD_SIZE=2 RANK="$rank" \
    LOCAL_RANK=0 NODE_RANK="$rank" timeout 120 "$worker" fit devices=1 nodes=2 \
    timeout_ms=20000 > "$out/rank$rank.txt" 2>&1
}
status=0
run_rank "$ns0" 0 & p0=$!
run_rank "$ns1" 1 & p1=$!
wait $p0 || status=1
wait $p1 || status=1
if [ $status -ne 0 ]; then
  echo "FAILED: a rank exited non-zero"; cat "$out"/rank*.txt; exit 1
fi
# Each rank saw the other over the veth (world size 2, its own rank).
grep -q "^RANKS rank=0 info 0 0 2 1 0" "$out/rank0.txt" || { echo "FAILED: rank 0 info"; cat "$out/rank0.txt"; exit 1; }
grep -q "^RANKS rank=1 info 1 0 2 0 1" "$out/rank1.txt" || { echo "FAILED: rank 1 info"; cat "$out/rank1.txt"; exit 1; }
p0=$(grep "^PARAM rank=0 " "$out/rank0.txt" | sed 's/rank=0 //')
p1=$(grep "^PARAM rank=1 " "$out/rank1.txt" | sed 's/rank=1 //')
if [ -z "$p0" ] || [ "$p0" != "$p1" ]; then
  echo "FAILED: final parameters differ between the hosts"; cat "$out"/rank*.txt; exit 1
fi
echo "OK: 2 ranks in 2 network namespaces (${net}1, ${net}2) trained to identical parameters"
grep "^DONE" "$out"/rank*.txt
