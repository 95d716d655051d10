# Sourced by boot.sh and node.sh, inside `unshare --mount --net`: makes this namespace a node.
# Every write to /var, /etc, /usr/local, /root and /run lands in overlays on a tmpfs of the
# bench's (under WORK/ov), and the node's addresses sit on a veth of its own, with no route out.
# Usage: node_namespace WORK IFACE ADDRESS/PREFIX...
node_namespace() {
  local work=$1 iface=$2 d address
  shift 2
  mount --make-rprivate /
  mount -t tmpfs tmpfs "$work/ov"
  for d in var etc usr/local root run; do
    mkdir -p "$work/ov/$d/u" "$work/ov/$d/w"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/ov/$d/u,workdir=$work/ov/$d/w" "/$d"
  done
  ip link set lo up
  ip link add "$iface" type veth peer name hacc-bench
  ip link set "$iface" up
  ip link set hacc-bench up
  for address in "$@"; do ip addr add "$address" dev "$iface"; done
}
