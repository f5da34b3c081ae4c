#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for tests/test_slurm.py (Debian 12, as root; no systemd needed).
# Installs slurm-wlm and munge if absent, writes /etc/slurm/{slurm.conf,gres.conf} for this host (partitions cpu and
# gpu, one fake GPU via File=/dev/null, no accounting), starts munged, slurmctld and slurmd, and waits until the node
# is idle. Rerunning it while the cluster is up changes nothing. Usage (as root): bash .ci/slurm-up.sh
set -euo pipefail

node_state() { timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -1 | tr -d '*~#!%$@^-'; }

if command -v sinfo >/dev/null && [[ "$(node_state)" =~ ^(idle|mixed|allocated)$ ]]; then
    echo "slurm: already up ($(node_state))"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "slurm-up.sh: the cluster is not up and starting it needs root" >&2
    exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: the key comes with the package; create one if it is missing
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
munge -n | unmunge >/dev/null

# slurm.conf for this host: real CPU layout from `slurmd -C`; memory is declared generously (config_overrides, not
# enforced here) so the profile's real per-rule requests (train_model: 16 GB) schedule on a small test machine.
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
node_line=$(slurmd -C | grep '^NodeName=' | sed -E 's/ RealMemory=[0-9]+//')
host=$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$node_line")
cat >/etc/slurm/slurm.conf <<EOF
# written by sedrepro/.ci/slurm-up.sh: one-node test cluster, no accounting
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# squeue (the profile's status command) must still see finished jobs between two status checks
MinJobAge=600
ReturnToService=2
GresTypes=gpu
$node_line RealMemory=65536 Gres=gpu:1 State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host MaxTime=INFINITE State=UP
EOF
# a fake GPU: --gpus=1 schedules and Slurm sets CUDA_VISIBLE_DEVICES; a real node names /dev/nvidia0
echo "NodeName=$host Name=gpu File=/dev/null" >/etc/slurm/gres.conf

# -c: start without the saved job state. A machine image can carry the state of a test run killed mid-way; restored,
# its jobs show as RUNNING with no process behind them and hold the node's cores, and every later run pends.
if pgrep -x slurmctld >/dev/null; then scontrol reconfigure; else slurmctld -c; fi
pgrep -x slurmd >/dev/null || slurmd

for _ in $(seq 60); do
    state=$(node_state)
    case "$state" in
        idle | mixed | allocated)
            sinfo
            exit 0
            ;;
        drain* | down* | inval*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
echo "slurm-up.sh: node $host did not become idle (state '${state:-none}'); see /var/log/slurm/*.log" >&2
sinfo -N -l >&2 || true
exit 1
