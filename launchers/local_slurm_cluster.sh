#!/bin/bash
# A one-node SLURM cluster on this machine (munge + slurmctld + slurmd on localhost), for tests and trials:
#   eval "$(launchers/local_slurm_cluster.sh start /tmp/slurm)"   # prints `export SLURM_CONF=...`
#   sbatch --gpus-per-node=0 --ntasks-per-node=1 --cpus-per-task=1 launchers/slurm.sbatch task=sft debug=fast
#   launchers/local_slurm_cluster.sh stop /tmp/slurm
# Everything (config, munge key and socket, state, logs, pids) lives in DIR; no accounting (no slurmdbd,
# so no sacct: use scontrol/squeue). Installs slurmctld, slurmd and munge with apt when they are missing.
# Exit status 3 with one line on stderr: this machine cannot run the daemons (the reason is the line).
set -euo pipefail

ACTION="${1:?usage: $0 start|stop DIR}"
DIR="$(realpath -m "${2:?usage: $0 start|stop DIR}")"

cannot() {
    echo "cannot start a local SLURM cluster: $*" >&2
    exit 3
}

alive() { [[ -s "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

stop() {
    # Jobs first (their steps would outlive slurmd), then slurmd, slurmctld, munged; each by the pid it wrote.
    if alive slurmctld; then
        SLURM_CONF="$DIR/slurm.conf" scancel --full --user="$(id -un)" 2>/dev/null || true
        for _ in $(seq 100); do
            [[ -z "$(SLURM_CONF="$DIR/slurm.conf" squeue --noheader -o %i 2>/dev/null)" ]] && break
            sleep 0.2
        done
    fi
    for daemon in slurmd slurmctld munged; do
        if [[ -s "$DIR/$daemon.pid" ]]; then
            kill "$(cat "$DIR/$daemon.pid")" 2>/dev/null || true
        fi
    done
    for daemon in slurmd slurmctld munged; do
        for _ in $(seq 50); do
            alive "$daemon" || break
            sleep 0.1
        done
        rm -f "$DIR/$daemon.pid"
    done
}

install() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sbatch >/dev/null && return
    [[ $EUID -eq 0 ]] || cannot "slurmctld/slurmd/munged are not installed and installing them needs root"
    command -v apt-get >/dev/null || cannot "slurmctld/slurmd/munged are not installed and there is no apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge; } \
        >"$DIR/apt.log" 2>&1 || cannot "apt-get install slurmctld slurmd munge failed (no network?): see $DIR/apt.log"
}

write_conf() {
    local host cpus mem_mb
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem_mb=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10)) # leave the OS a tenth
    # linuxproc/task none: no cgroups, which containers rarely delegate. One partition, no GPU gres.
    cat >"$DIR/slurm.conf" <<EOF
ClusterName=mathlit
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge.socket
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
    mkdir -p "$DIR/state" "$DIR/spool"
    chmod 700 "$DIR"
    install
    stop # a previous cluster in the same folder
    write_conf
    [[ -s "$DIR/munge.key" ]] || dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 status=none
    chmod 400 "$DIR/munge.key"
    munged --force --key-file="$DIR/munge.key" --socket="$DIR/munge.socket" --pid-file="$DIR/munged.pid" \
        --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed" ||
        cannot "munged did not start: see $DIR/munged.log"
    export SLURM_CONF="$DIR/slurm.conf"
    slurmctld -f "$SLURM_CONF" || cannot "slurmctld did not start: see $DIR/slurmctld.log"
    slurmd -f "$SLURM_CONF" || cannot "slurmd did not start: see $DIR/slurmd.log"
    for _ in $(seq 60); do
        [[ "$(sinfo --noheader -o %t 2>/dev/null)" == idle ]] && {
            echo "export SLURM_CONF=$SLURM_CONF"
            return
        }
        sleep 0.5
    done
    stop
    cannot "the node did not become idle in 30 s: see $DIR/slurmctld.log and $DIR/slurmd.log"
}

case "$ACTION" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2 && exit 2 ;;
esac
