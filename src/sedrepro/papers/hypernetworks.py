"""Singh, Phan, Benetos: "Hypernetworks for sound event detection: a proof-of-concept" (Tables 1 and 2).

Segment-based F1 (%) with 1 s segments (Section 3.2); each reported number is the mean over 10 test-set
evaluations ("across 10 epochs", the sentence after Table 2).
"""

from __future__ import annotations

from . import AVERAGE, OVERALL, Paper, TableSpec, TextCell, register

MODEL_COLUMNS = (
    ("Bi-baseline", "crnn_bi"),
    ("Uni-baseline", "crnn_uni"),
    ("HCRNN-128", "hcrnn128"),
    ("HCRNN-64", "hcrnn64"),
)

TABLE1 = TableSpec(
    name="table1",
    caption="Class-wise and overall segment-wise F1 scores (%) obtained on the TUT-SED Synthetic 2016 dataset.",
    dataset="tut_sed_synthetic_2016",
    model_columns=MODEL_COLUMNS,
    stat_columns=(("Avg. dur. per event (s)", "avg_dur_s"), ("Total dur. (s)", "total_dur_s")),
    rows=(
        ("Horsewalk", "horsewalk"),
        ("Rain", "rain"),
        ("Bird_singing", "bird_singing"),
        ("Gunshot", "gun_shot"),
        ("Alarms&sirens", "alarms_and_sirens"),
        ("Crowd_cheering", "crowd_cheering"),
        ("Motorcycle", "motorcycle"),
        ("Mixer", "mixer"),
        ("Baby_crying", "baby_crying"),
        ("Footsteps", "footsteps"),
        ("Crowd_applause", "crowd_applause"),
        ("Dog_barking", "dog_barking"),
        ("Bus", "bus"),
        ("Cat_meowing", "cat_meowing"),
        ("Thunder", "thunder"),
        ("Glass_smash", "glass_smash"),
        (AVERAGE, AVERAGE),
        (OVERALL, OVERALL),
    ),
)

TABLE2 = TableSpec(
    name="table2",
    caption="Class-wise and overall segment-wise F1 scores (%) obtained on the Urban-SED dataset.",
    dataset="urban_sed",
    model_columns=MODEL_COLUMNS,
    stat_columns=(),
    rows=(
        ("Air_conditioner", "air_conditioner"),
        ("Car_horn", "car_horn"),
        ("Children_playing", "children_playing"),
        ("Dog_bark", "dog_bark"),
        ("Drilling", "drilling"),
        ("Engine_idling", "engine_idling"),
        ("Gun_shot", "gun_shot"),
        ("Jackhammer", "jackhammer"),
        ("Siren", "siren"),
        ("Street_music", "street_music"),
        (AVERAGE, AVERAGE),
        (OVERALL, OVERALL),
    ),
)

NOTES = (
    'Features are computed at 22,050 Hz: the paper\'s "22.5 kHz" (Section 3.3) is a typo, since its mel '
    "range tops out at 11,025 Hz = 22,050 / 2.",
    'The paper reports each number as the mean over 10 test-set evaluations ("across 10 epochs"); '
    "it does not say how many training runs (seeds) that covers.",
)

NOT_CHECKABLE = (
    f"{OVERALL} rows: micro-averaged F1 needs per-class segment counts (reference and system), which are not printed.",
    "Event counts per class: not printed (see the implied counts above).",
    "Tables without duration columns: no dataset statistics to cross-check.",
)

PAPER = register(
    Paper(
        name="hypernetworks",
        tables=(TABLE1, TABLE2),
        notes=NOTES,
        not_checkable=NOT_CHECKABLE,
        # Values stated in the text rather than in a table are transcribed in the TSV under table "text"; the sum of
        # Table 1's total_dur_s column against the dataset duration the text states (in minutes).
        dataset_durations={"table1": TextCell("text", "TUT-SED Synthetic 2016 total duration", "duration_min")},
        text_claims="config/paper_values/hypernetworks_claims.tsv",
    )
)
