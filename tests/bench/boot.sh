#!/usr/bin/env bash
# Inside the bench's own mount and network namespaces (unshare --mount --net), made a node by
# node-namespace.sh: one node's user-data runs as cloud-init would run it.
# Usage: boot.sh WORK IFACE ADDR/PREFIX PREINSTALL VIP
set -euo pipefail
work=$1 iface=$2 address=$3 preinstall=$4 vip=$5
bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=node-namespace.sh
source "$bench/node-namespace.sh"
node_namespace "$work" "$iface" "$address"

peer_pids=()
trap 'for pid in "${peer_pids[@]}"; do kill "$pid" 2> /dev/null || true; done' EXIT
for peer in ${BENCH_PEERS:-}; do
  # A control-plane node that already runs the cluster: k8s-dqlite bound to its own address
  # (scripts/wrappers/join.py update_dqlite; cluster-agent pkg/snap/util/dqlite.go).
  ip addr add "$peer/32" dev "$iface"
  /usr/bin/python3 -c 'import socket, sys, time
s = socket.create_server((sys.argv[1], 19001)); s.listen()
while True:
    s.accept()[0].close()' "$peer" &
  peer_pids+=($!)
done
for peer in ${BENCH_PEERS:-}; do
  for _ in $(seq 100); do ss -ltnH "src $peer:19001" | grep -q . && break; /usr/bin/sleep 0.05; done
done
export PATH="$work/fakes:/usr/sbin:/usr/bin:/sbin:/bin"
if [[ $preinstall == yes ]]; then
  snap install microk8s --classic --channel=1.32/stable > /dev/null
fi
/usr/bin/python3 "$bench/write_files.py" "$work/user-data.yaml" "$work/runcmd"
set +e
bash -e "$work/runcmd" > "$work/output" 2>&1
echo $? > "$work/rc"
set -e
if [[ $vip != none ]]; then
  # kube-vip puts the VIP on this node once the bootstrap is over.
  ip addr replace "$vip/32" dev "$iface"
fi
tick  # time goes on after the bootstrap: the daemons look once more
if [[ -e $work/between.sh ]]; then
  # What happened to the live node since (a day-2 step), then the bootstrap run again.
  bash -e "$work/between.sh"
  if [[ ! -e $work/no-rerun ]]; then  # between.sh says when nothing would run it again
    set +e
    bash -e "$work/runcmd" > "$work/output2" 2>&1
    echo $? > "$work/rc2"
    set -e
    tick
  fi
fi
mkdir -p "$work/result"
mkdir -p "$work/result/root/var/snap"
[[ ! -d /var/snap/microk8s ]] || cp -a /var/snap/microk8s "$work/result/root/var/snap/"
[[ ! -e /var/log/hacc-bootstrap.log ]] || cp -a /var/log/hacc-bootstrap.log "$work/result/"
for f in /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg; do
  [[ ! -e $f ]] || cp "$f" "$work/result/$(basename "$f")"
done
