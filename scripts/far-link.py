#!/usr/bin/env python3
"""A far network link for the benchmark: a network namespace joined to this one through two TUN
devices, with a fixed delay on each way.

This machine's kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is off, so `tc qdisc add ... netem`
answers "Specified qdisc kind is unknown"). This process is the link instead: every packet one
side sends is read from its TUN device, held for the delay, then written to the other side's.
Both ends keep their own kernel TCP stacks, so windows, slow start and socket buffers behave as
on a real long link; only the delay is emulated, not loss or a bandwidth cap.

Usage (as root): far-link.py NAMESPACE DELAY_MS READY_FILE
  The namespace gets 10.99.0.2 (this side 10.99.0.1) and its own loopback. READY_FILE is written
  once the link is up. The namespace is deleted when the process ends (SIGTERM or SIGINT).
"""
import collections
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# Large frames: fewer packets for this process to carry at a hundred MB/s.
MTU = "60000"
NEAR, FAR = "10.99.0.1", "10.99.0.2"


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def sh(*args):
    subprocess.run(args, check=True)


def main():
    ns, delay, ready = sys.argv[1], float(sys.argv[2]) / 1000.0, sys.argv[3]
    near_dev, far_dev = "mm2near0", "mm2far0"
    subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", ns)

    def cleanup(*_):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, cleanup)
    signal.signal(signal.SIGINT, cleanup)
    near, far = tun(near_dev), tun(far_dev)
    # A TUN device keeps its file descriptor when it moves to another namespace.
    sh("ip", "link", "set", far_dev, "netns", ns)
    sh("ip", "addr", "add", NEAR, "peer", FAR, "dev", near_dev)
    sh("ip", "link", "set", near_dev, "mtu", MTU, "up")
    inside = ["ip", "netns", "exec", ns]
    sh(*inside, "ip", "link", "set", "lo", "up")
    sh(*inside, "ip", "addr", "add", FAR, "peer", NEAR, "dev", far_dev)
    sh(*inside, "ip", "link", "set", far_dev, "mtu", MTU, "up")
    with open(ready, "w") as f:
        f.write(FAR + "\n")

    # Per direction, packets in the order read, each with the time it is due on the other side.
    held = {near: collections.deque(), far: collections.deque()}
    other = {near: far, far: near}
    while True:
        now = time.monotonic()
        for src, queue in held.items():
            while queue and queue[0][0] <= now:
                _, packet = queue.popleft()
                try:
                    os.write(other[src], packet)
                except BlockingIOError:
                    pass  # a full device queue drops the packet, as a full link would
        due = [q[0][0] for q in held.values() if q]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 1.0
        readable, _, _ = select.select([near, far], [], [], timeout)
        for src in readable:
            stamp = time.monotonic() + delay
            while True:
                try:
                    packet = os.read(src, 65536)
                except BlockingIOError:
                    break
                held[src].append((stamp, packet))


if __name__ == "__main__":
    main()
