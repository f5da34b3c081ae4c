"""Security: checkpoints never unpickle code, archives are checksum-verified (checksum pinned in config) before they
are extracted, and rule shell commands never splice config values or file names unquoted."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sedrepro import datasets, expand, papers
from sedrepro.config import REPO, load, validate
from sedrepro.io import InputError

SRC = REPO / "src" / "sedrepro"
RULES = sorted((REPO / "rules").glob("*.smk"))


# ---- checkpoints -------------------------------------------------------------------------------------------------


def _torch_load_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "load"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "torch"
    ]


def test_every_torch_load_in_src_is_weights_only() -> None:
    found, unsafe = 0, []
    for path in sorted(SRC.rglob("*.py")):
        for call in _torch_load_calls(ast.parse(path.read_text(encoding="utf-8"))):
            found += 1
            kw = {k.arg: k.value for k in call.keywords}
            ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
            if not ok:
                unsafe.append(f"{path.relative_to(REPO)}:{call.lineno}")
    assert found >= 2, "the scan found no torch.load at all: is it still looking in the right place?"
    assert unsafe == [], f"torch.load without weights_only=True: {unsafe}"
    # and nothing reaches pickle another way
    text = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    assert not re.search(r"\bpickle\.loads?\(|allow_pickle=True", text)


# ---- downloads: pinned checksum, verified before extraction -------------------------------------------------------


def test_schema_requires_exactly_one_pinned_checksum_per_archive() -> None:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    entry = cfg["datasets"]["urban_sed"]["archives"][0]
    for mutate in (lambda a: a.pop("md5"), lambda a: a.update(sha256="0" * 64), lambda a: a.update(md5="xyz")):
        bad = yaml.safe_load((REPO / "config.yaml").read_text())
        mutate(bad["datasets"]["urban_sed"]["archives"][0])
        with pytest.raises(InputError, match=r"config key 'datasets/urban_sed/archives/0") as err:
            validate(bad)
        assert "\n" not in str(err.value)
    bad = yaml.safe_load((REPO / "config.yaml").read_text())
    bad["datasets"]["urban_sed"]["archives"][0].pop("md5")
    with pytest.raises(InputError) as err:
        validate(bad)
    assert str(err.value) == (
        "config key 'datasets/urban_sed/archives/0': expected: One archive of a dataset as its "
        "host publishes it. Exactly one of md5, sha256 or (no checksum known) pinned_by pins its content. Found keys "
        "bytes, name, size_note, urls"
    )
    assert entry["md5"]
    for extra in ([], ["config/paper.yaml"], ["config/tiny.yaml"]):
        merged = load([REPO / "config.yaml", *(REPO / e for e in extra)])
        for name, ds in merged["datasets"].items():
            for archive in ds.get("archives", []):  # a dataset only embedded or read from disk has none (desed)
                assert sum(bool(archive.get(k)) for k in ("md5", "sha256", "pinned_by")) == 1, (name, archive["name"])
                # no checksum only for a plain file no host publishes one of (AudioSet's class index, its content
                # checked by the index stage): never for an archive that gets unpacked
                assert archive.get("pinned_by") is None or archive["kind"] == "file", (name, archive["name"])


def test_extract_rule_reads_only_the_verified_download(tmp_path: Path) -> None:
    """Dry run of the real workflow with source: download: the download job carries the md5 pinned in config.yaml,
    and the extract job's only input is the download job's output (fetch renames onto it only after the digest
    matched, see test_datasets_archive.py::test_fetch_checksum_mismatch_names_file_expected_actual_and_leaves_nothing)."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data_root: {tmp_path / 'data'}\ndatasets:\n  urban_sed:\n    source: download\n")
    target = tmp_path / "data" / "datasets" / "urban_sed" / "extracted"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "-p",
            "--configfile",
            str(REPO / "config.yaml"),
            str(cfg),
            "--",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    pinned = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["urban_sed"]["archives"][0]
    archive = tmp_path / "data" / "archives" / "urban_sed" / pinned["name"]
    commands = [line for line in out.splitlines() if line.startswith("Shell command:")]
    download = [c for c in commands if "sedrepro.download" in c]
    extract = [c for c in commands if "sedrepro.datasets.archive" in c]
    assert len(download) == 1 and f"--md5 {pinned['md5']}" in download[0] and f"--out {archive} " in download[0]
    assert len(extract) == 1 and extract[0].endswith(f"extract --out {target} {archive}")
    # the DAG: the extract job has one parent, the download job (rules print a one-line message, not their inputs)
    dag = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "--dag",
            "--configfile",
            str(REPO / "config.yaml"),
            str(cfg),
            "--",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    nodes = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)', dag, flags=re.M))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", dag, flags=re.M)
    parents = [nodes[a] for a, b in edges if nodes[b] == "extract_dataset"]
    assert parents == ["download_archive"], dag


# ---- shell commands of the rules -------------------------------------------------------------------------------

# Placeholders that may appear unquoted, and why each is safe.
SAFE_UNQUOTED = {
    "{threads}": "an integer chosen by Snakemake",
    "{wildcards.dataset}": "wildcard_constraints: one of sedrepro.datasets.DATASETS.names()",
    "{wildcards.model}": "wildcard_constraints: one of config['models'], whose names the schema limits to letters, digits, _ and -",
    "{wildcards.seed}": r"wildcard_constraints: \d+",
    "{wildcards.paper}": "wildcard_constraints: one of sedrepro.papers.names() (registered papers)",
    "{wildcards.table}": r"wildcard_constraints: (?:table|figure)\d+ (less some paper/name pairs)",
    "{wildcards.figure}": r"wildcard_constraints: figure\d+ (less some paper/name pairs)",
    "{params.sample_rate}": r"rules/audio.smk: int() of the rate wildcard, constrained to \d+",
    "{params.n}": "config evaluation/n_checkpoints or a model's override: schema integer",
    "{params.batch_size}": "config training/batch_size or a model's override: schema integer",
    "{params.selection}": "config evaluation/selection or a model's override: schema enum best_val_loss | last",
    "{params.device}": "config training/device: schema enum auto | cpu | cuda",
    "{params.source}": "sedrepro.workflow.source_args: shlex.quote on every URL and path; md5/sha256 schema hex",
    "{params.annotations_only}": "sedrepro.workflow.annotations_only_flag: the constant '--annotations-only' or ''",
    "{params.subsets}": "sedrepro.workflow.subsets_flag: '--subsets ' and shlex.quote of the joined names, or ''",
    "{params.files}": "sedrepro.workflow.extract_file_args: ' --file ' and shlex.quote of each NAME=PATH, or ''",
}


def _shell_strings(path: Path) -> dict[str, str]:
    """rule name -> its shell command (the concatenated string literals after `shell:`)."""
    out, rule = {}, None
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if m := re.match(r"rule (\w+):", line):
            rule = m.group(1)
        if line.strip() == "shell:":
            parts = []
            for nxt in lines[i + 1 :]:
                if not re.match(r'\s+"', nxt):
                    break
                parts.append(ast.literal_eval(nxt.strip()))
            out[rule] = "".join(parts)
    return out


def test_rule_shell_placeholders_are_quoted_or_known_safe() -> None:
    unsafe, seen = [], set()
    shells = {f"{p.name}:{rule}": cmd for p in RULES for rule, cmd in _shell_strings(p).items()}
    assert len(shells) >= 12  # every rule with a shell command was found
    for where, cmd in shells.items():
        for placeholder in re.findall(r"(?<!\{)\{[^{}]+\}(?!\})", cmd):
            if placeholder.endswith(":q}"):
                continue
            seen.add(placeholder)
            if placeholder not in SAFE_UNQUOTED:
                unsafe.append(f"{where}: {placeholder}")
        assert "{config" not in cmd, f"{where}: config values go through params, checked above"
    assert unsafe == [], f"unquoted placeholders not known to be safe (add :q or a reason): {unsafe}"
    assert seen <= set(SAFE_UNQUOTED)


def test_the_reasons_for_unquoted_placeholders_hold() -> None:
    from sedrepro import workflow as glue

    common = (REPO / "rules" / "common.smk").read_text(encoding="utf-8")
    assert re.search(r"^wildcard_constraints:\n    \*\*glue\.wildcard_constraints\(config\),$", common, re.M)
    cfg = load([REPO / "config.yaml"])
    constraints = glue.wildcard_constraints(cfg)
    assert set(constraints) == {"dataset", "model", "pipeline", "seed", "paper", "table", "figure"}
    # table and figure names: "table" or "figure" and digits, then only look-behinds (they add no characters)
    for key, head in (("table", r"(?:table|figure)\d+"), ("figure", r"figure\d+")):
        assert constraints[key].startswith(head) and re.fullmatch(r"(\(\?<!/\w+/\w+\))*", constraints[key][len(head) :])
    word = re.compile(r"^[A-Za-z0-9_]+$")
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    assert all(word.match(n) for n in (*datasets.DATASETS.names(), *papers.names()))
    # model names are free (sweeps generate some): letters, digits, _ and -, never first (no option, no shell syntax)
    assert (
        schema["properties"]["models"]["propertyNames"]["pattern"] == expand.NAME.pattern == "^[A-Za-z][A-Za-z0-9_-]*$"
    )
    props, defs = schema["properties"], schema["$defs"]
    # pipeline and dataset names are free, within the identifier pattern
    assert defs["name"]["pattern"] == "^[A-Za-z][A-Za-z0-9_]*$"
    assert props["pipelines"]["propertyNames"] == props["datasets"]["propertyNames"] == {"$ref": "#/$defs/name"}
    for section, key in (("audio", "sample_rate"), ("evaluation", "n_checkpoints"), ("training", "batch_size")):
        assert props[section]["properties"][key]["$ref"] == "#/$defs/positive_int"
    for section, key in (("evaluation_override", "n_checkpoints"), ("training_override", "batch_size")):
        assert defs[section]["properties"][key]["$ref"] == "#/$defs/positive_int"
    for section, key in (("evaluation", "threshold"), ("evaluation", "segment_s")):
        assert props[section]["properties"][key]["type"] == "number"
    assert defs["evaluation_override"]["properties"]["threshold"]["type"] == "number"
    for section, key in (("evaluation", "selection"), ("training", "device")):
        assert all(word.match(v) for v in props[section]["properties"][key]["enum"])
    assert all(word.match(v) for v in defs["evaluation_override"]["properties"]["selection"]["enum"])
    assert "figure=" not in (REPO / "rules" / "figures.smk").read_text(encoding="utf-8")  # the glue's constraint holds
    # a rule that takes any paper or dataset name in a target builds no job before checked_names has passed it: its
    # first input function (a wrapper of the glue function of that name) stops a name that is not registered
    stops = {
        "checked_names": lambda: glue.checked_names({"dataset": "x;true"}),
        "checked_index": lambda: glue.checked_index(cfg, "x;true"),
        "table_metrics": lambda: glue.table_metrics(cfg, "x;true", "table1"),
        "figure_inputs": lambda: glue.figure_inputs(cfg, "x;true", "figure1"),
        "audit_inputs": lambda: glue.audit_inputs(cfg, REPO, "x;true"),
    }

    def checks_first(fn: str) -> bool:
        assert re.search(rf"^def {fn}\(wildcards\):\n    return _stop\(glue\.{fn}, ", common, re.M), fn
        with pytest.raises(InputError, match="^the target's (paper|dataset): expected one of "):
            stops[fn]()
        return True

    open_rules = 0
    for smk in ("render.smk", "figures.smk", "datasets.smk"):
        for rule in re.split(r"^rule ", (REPO / "rules" / smk).read_text(encoding="utf-8"), flags=re.M)[1:]:
            if "=ANY_NAME" in rule:
                open_rules += 1
                first_input = rule.split("input:\n", 1)[1].splitlines()[0]
                fn = re.search(r"(?:=|unpack\()(\w+)", first_input).group(1)
                assert checks_first(fn), f"rule {rule.split(':')[0]}: first input {first_input.strip()}"
    assert open_rules == 4  # render_table, audit_paper, plot_figure, describe_dataset
    cfg["datasets"]["urban_sed"]["archives"][0]["urls"] = ["https://example.org/a b;rm -rf x"]
    name = cfg["datasets"]["urban_sed"]["archives"][0]["name"]
    assert "--url 'https://example.org/a b;rm -rf x'" in glue.source_args(cfg, "urban_sed", name, {})
    assert glue.source_args(cfg, "urban_sed", name, {"manifest": "a b/m.json"}) == "--manifest 'a b/m.json'"
    assert schema["$defs"]["archive"]["properties"]["md5"]["pattern"] == "^[0-9a-f]{32}$"
    assert schema["$defs"]["archive"]["properties"]["sha256"]["pattern"] == "^[0-9a-f]{64}$"
