"""The lab as its commands see it: one library for make lab-bench, the lab's pytest checks
(make lab-cluster, make lab-images) and lab-up's memory sampler.

inventory  the one reader of lab/state/inventory.yml
guest      a lab guest over SSH (its pinned host key): commands, mounts, logs, I/O counters
cinder     Cinder through Keystone (openstacksdk, clouds.yaml) and its waits
appliance  the simulator container: its REST client, request log, ganesha, restart
logs       the cinder-volume logs of the volume hosts since a mark
memory     peak samplers (PSS of a network namespace, anything else that counts)
waits      one way to wait for a state: settled() / wait_until() on tenacity
tables     text tables (tabulate)
playbooks  lab playbooks through ansible-runner
"""
