"""The tiny workflow through profiles/slurm on a real (one-node) Slurm cluster: `bash .ci/slurm-up.sh` starts one.

Skipped when Slurm is not installed or no node is up. Needs no accounting (sacct): the profile polls squeue, and the
evidence that jobs went through Slurm is the per-job logs the plugin keeps and `scontrol show job`.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from test_workflow import fresh_copy

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]


def cluster_state() -> str | None:
    """None when a node is ready to take jobs, else why not."""
    if shutil.which("sinfo") is None:
        return "Slurm is not installed (no sinfo); start a test cluster with `bash .ci/slurm-up.sh` (as root)"
    proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=30)
    states = proc.stdout.split()
    if proc.returncode != 0 or not any(s.rstrip("*~#!%$@^-") in ("idle", "mixed", "allocated") for s in states):
        found = proc.stderr.strip() or " ".join(states) or "no nodes"
        return f"no Slurm node is up ({found[:200]}); start one with `bash .ci/slurm-up.sh` (as root)"
    return None


STALL_S = 900  # no job finished for this long: the run is stuck (the tiny run finishes a job every few seconds)
LIMIT_S = 2400


def cluster_report() -> str:
    """What Slurm says about its node and this user's jobs: the evidence for a run that stopped moving."""
    out = []
    for cmd in (
        ["sinfo", "-N", "-o", "%N %P %T %E"],
        ["sinfo", "-R"],
        ["squeue", "-o", "%i %P %j %T %M %R"],
        ["scontrol", "show", "config"],
    ):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            text = proc.stdout + proc.stderr
        except (OSError, subprocess.TimeoutExpired) as err:
            text = repr(err)
        if cmd[:2] == ["scontrol", "show"]:
            text = "\n".join(
                line
                for line in text.splitlines()
                if line.split("=")[0].strip() in ("MinJobAge", "SelectTypeParameters", "SchedulerType", "SlurmctldHost")
            )
        out.append(f"$ {' '.join(cmd)}\n{text.strip()}")
    return "\n".join(out)


def queued_jobs() -> list[tuple[str, str, str, str]]:
    """This user's jobs in the queue as (job id, name, state, working directory)."""
    proc = subprocess.run(
        ["squeue", "-h", "-u", str(os.getuid()), "-o", "%i|%j|%T|%Z"], capture_output=True, text=True, timeout=30
    )
    return [tuple(line.split("|", 3)) for line in proc.stdout.splitlines() if line.count("|") == 3]


def live_cwds() -> set[str]:
    """Working directories of this machine's running processes."""
    cwds = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwds.add(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            pass
    return cwds


def cancel_orphans() -> list[str]:
    """Cancel jobs an earlier run of this test left behind: their submitting Snakemake died (a killed test session),
    so nothing will ever collect them, yet they hold the node's cores. A job is this test's when its working directory
    is a copy this fixture made (<basetemp>/slurmN/repo); it is an orphan when no process works in that directory."""
    alive = live_cwds()
    orphans = [
        (jobid, workdir)
        for jobid, _, _, workdir in queued_jobs()
        if re.search(r"/slurm\d+/repo$", workdir) and workdir not in alive
    ]
    for jobid, _ in orphans:
        subprocess.run(["scancel", jobid], capture_output=True, timeout=30)
    return [f"{jobid} ({workdir})" for jobid, workdir in orphans]


def foreign_running(run_id: str | None) -> bool:
    """True when a job of another run holds the node (then this run waiting is not this run stalling)."""
    return any(state == "RUNNING" and name != run_id for _, name, state, _ in queued_jobs())


def run_watched(cmd: list[str], cwd, log_path) -> tuple[int, str]:
    """Run `cmd` with its output in `log_path`; stop it (and say what Slurm was doing) when no job has finished for
    STALL_S seconds while the node was free for it, or the whole run passes LIMIT_S. Returns (exit status, output)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
    start = last_change = last_look = time.monotonic()
    finished = 0
    while proc.poll() is None:
        time.sleep(2)
        now = time.monotonic()
        text = log_path.read_text(errors="replace")
        count = text.count("Finished jobid")
        if count != finished:
            finished, last_change = count, now
        elif now - last_look > 30:
            last_look = now
            run_id = re.search(r"SLURM run ID: (\S+)", text)
            if foreign_running(run_id and run_id.group(1)):
                last_change = now
        if now - last_change > STALL_S or now - start > LIMIT_S:
            report = cluster_report()
            proc.terminate()  # Snakemake cancels its Slurm jobs on SIGTERM
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            why = (
                f"no job finished for {STALL_S} s"
                if now - last_change > STALL_S
                else f"still running after {LIMIT_S} s"
            )
            raise AssertionError(
                f"{' '.join(cmd)}: {why} ({finished} jobs finished)\n{report}\n"
                f"--- last output ---\n{log_path.read_text(errors='replace')[-6000:]}"
            )
    return proc.returncode, log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    reason = cluster_state()
    if reason:
        pytest.skip(reason)
    cancelled = cancel_orphans()
    if cancelled:
        print(f"cancelled jobs left by an earlier killed run of this test: {', '.join(cancelled)}")
    workdir = fresh_copy(tmp_path_factory.mktemp("slurm") / "repo")
    # the profile as a cluster user runs it; only the first status check comes sooner (the default 40 s per DAG level
    # would make this test several minutes longer)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        "profiles/slurm",
        "--configfile",
        "config/tiny.yaml",
        # the first two papers: every rule and resource kind of the profile (the ssa paper adds jobs of the same rules,
        # not profile behaviour, and 22 more Slurm jobs of CI time)
        "--config",
        "papers=[hypernetworks, dessed]",
        "--slurm-init-seconds-before-status-checks",
        "5",
    ]
    status, output = run_watched(cmd, workdir, workdir.parent / "snakemake.log")
    if status != 0:
        raise AssertionError(f"{' '.join(cmd)} failed (exit {status}):\n{output[-8000:]}\n{cluster_report()}")
    return workdir, output


def test_tables_built_through_slurm(slurm_run):
    workdir, _ = slurm_run
    for name in ["table1.md", "table1.csv", "table2.md", "table2.csv", "table1.png", "table2.png", "audit.md"]:
        assert (workdir / "results" / "tiny" / "hypernetworks" / name).stat().st_size > 0
    for name in ["table3.md", "table4.md", "figure1.png", "figure15.png", "audit.md"]:
        assert (workdir / "results" / "tiny" / "dessed" / name).stat().st_size > 0


def test_jobs_ran_as_slurm_jobs(slurm_run):
    workdir, output = slurm_run
    logs = workdir / ".snakemake" / "slurm_logs"
    by_rule = {d.name.removeprefix("rule_"): sorted(d.rglob("*.log")) for d in logs.glob("rule_*")}
    assert len(by_rule.get("train_model", [])) == 8 + 7, sorted(by_rule)  # both papers' models
    for rule in ["extract_features", "predict_checkpoints", "score_predictions", "render_table", "plot_figure"]:
        assert by_rule.get(rule), f"no Slurm job log for {rule}"
    assert "download_archive" not in by_rule  # a localrule runs on the submit host
    assert "Falling back to 'sacct'" not in output  # squeue, as the profile says (sacct would hang here)

    # the GPU rule asked Slurm for a GPU on the gpu partition; a CPU rule did not
    def job(log_path):
        jobid = log_path.stem
        proc = subprocess.run(["scontrol", "show", "job", jobid], capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            pytest.skip(f"scontrol no longer knows job {jobid} (MinJobAge passed)")
        return proc.stdout

    train = job(by_rule["train_model"][0])
    assert "Partition=gpu" in train and "TresPerJob=gres:gpu:1" in train and "JobState=COMPLETED" in train, train
    features = job(by_rule["extract_features"][0])
    assert "Partition=cpu" in features and "gpu" not in features.lower(), features
