#!/usr/bin/env bash
# Inside the bench's own mount and network namespaces, made a node by node-namespace.sh: a
# control-plane node's file tree over the real paths, kubelite running the apiserver on :16443
# (bench/fake_kubelite.py), then the node's apply-day2.sh with the stand-ins for `snap` and
# `microk8s`. Usage: day2.sh WORK IFACE ADDRESS/PREFIX
set -euo pipefail
work=$1 iface=$2
shift 2
bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=node-namespace.sh
source "$bench/node-namespace.sh"
node_namespace "$work" "$iface" "$@"
cp -a "$work/tree/." /
export DAY2_BENCH=$work
trap '"$work/fakes/stop-kubelite"' EXIT
"$work/fakes/snap" restart microk8s.daemon-kubelite  # the node as it runs before the change
export PATH="/usr/sbin:/usr/bin:/sbin:/bin"
set +e
HACC_SNAP="$work/fakes/snap" HACC_MICROK8S="$work/fakes/microk8s" HACC_READY_TIMEOUT=3 \
  HACC_POLL_INTERVAL=0.2 bash "$work/apply-day2.sh" > "$work/output" 2>&1
echo $? > "$work/rc"
set -e
# What the node ends with: its args file, and whether the apiserver answers.
cp /var/snap/microk8s/current/args/kube-apiserver "$work/kube-apiserver.after"
curl --silent --insecure --max-time 5 https://127.0.0.1:16443/readyz > "$work/readyz.after" || true
