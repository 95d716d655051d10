#!/usr/bin/env bash
# Inside the bench's own mount and network namespaces, made a node by node-namespace.sh: a
# node's file tree laid over the real paths, the node's addresses on a veth, the drill's fake
# apiserver and, for load-balancer nodes, the real HAProxy with the node's configuration; then
# the node's verify.sh. Usage: node.sh WORK IFACE BIND ADDRESS/PREFIX...
set -euo pipefail
work=$1 iface=$2 bind=$3
shift 3
bench=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=node-namespace.sh
source "$bench/node-namespace.sh"
node_namespace "$work" "$iface" "$@"
cp -a "$work/tree/." /

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done; }
trap cleanup EXIT
if [[ $bind != none ]]; then
  "$PYTHON" -m hacc.drill.fake_apiserver node "$work/apiserver.crt" "$work/apiserver.key" "$bind" > /dev/null 2>&1 &
  pids+=($!)
fi
for _ in $(seq 100); do
  { [[ $bind == none ]] || ss -ltnH 'sport = :16443' | grep -q .; } && break
  sleep 0.05
done
# HAProxy after the apiserver listens, as on a node (the bootstrap starts it last).
if [[ -e /etc/haproxy/haproxy.cfg && -e $work/run-haproxy ]]; then
  mkdir -p /run/haproxy
  haproxy -db -f /etc/haproxy/haproxy.cfg > /dev/null 2>&1 &
  pids+=($!)
fi
sleep "${SETTLE:-0}"
export PATH="$work/fakes:/usr/sbin:/usr/bin:/sbin:/bin"
touch /run/hacc-bench-marker
sleep 1.1  # a file verify.sh would write gets a later mtime than the marker
set +e
sh "$work/verify.sh" > "$work/output" 2>&1
echo $? > "$work/rc"
# verify.sh is read-only: nothing in the node's tree may be newer than the marker.
find /var/snap /var/log /usr/local/lib /etc/haproxy /etc/keepalived -newer /run/hacc-bench-marker \( -type f -o -type l \) > "$work/changed" 2> /dev/null
