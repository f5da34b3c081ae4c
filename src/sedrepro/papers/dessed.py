"""Prinzivalle, "Implementation of SED with Depthwise Separable and Dilated Convolutions" (Sapienza, 2021).

A replication report of Drossos et al. 2020 ("dessed"): monophonic SED on UrbanSound8K (Tables 1 and 3, Figures 1,
9, 10) and polyphonic SED on TUT-SED Synthetic 2016 (Tables 2 and 4, Figures 4, 11-15). Scores are of the one
checkpoint with the lowest validation loss (Section 4); accuracies, losses and F1 are printed on a 0-1 scale.
"""

from __future__ import annotations

from . import MODELS_LAYOUT, CrossPaperEvents, FigureSpec, Paper, SizeCheck, TableSpec, TextCell, register

MONO = "urbansound8k"
POLY = "tut_sed_synthetic_2016"

MONO_MODELS = (("Baseline", "mono_baseline"), ("Proposed", "mono_proposed"))
POLY_MODELS = (
    ("Baseline", "dnd_baseline"),
    ("Dilated", "dnd_dilated"),
    ("Dessed", "dnd_dessed"),
    ("Proposed Model 1x1 Convolution", "dnd_proposed_conv1x1"),
    (
        "Proposed Model max pooling",
        "dnd_proposed_maxpool",
    ),  # Table 4 prints "avg pooling"; Section 4.2 and the model: max
)

MONO_CLASSES = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)
# Table 2 as printed (two column pairs read left pair first, i.e. by decreasing count)
POLY_CLASSES = (
    "footsteps",
    "horsewalk",
    "bird_singing",
    "baby_crying",
    "dog_barking",
    "gun_shot",
    "crowd_applause",
    "cat_meowing",
    "motorcycle",
    "thunder",
    "glass_smash",
    "crowd_cheering",
    "alarms_and_sirens",
    "mixer",
    "rain",
    "bus",
)

TABLE1 = TableSpec(
    name="table1",
    caption="Monophonic dataset label distribution (UrbanSound8K clips per class).",
    dataset=MONO,
    model_columns=(),
    stat_columns=(("number of elements", "n_events"),),
    rows=tuple((c, c) for c in MONO_CLASSES),
    units="Counts of clips (one whole-clip event per clip) over all folds of the dataset index.",
)

TABLE2 = TableSpec(
    name="table2",
    caption="TUT-SED Synthetic 2016 label distribution (printed with Table 1's caption, 'Monophonic dataset label "
    "distribution').",
    dataset=POLY,
    model_columns=(),
    stat_columns=(("number of elements", "n_events"),),
    rows=tuple((c, c) for c in POLY_CLASSES),
    units="Counts of annotated events over all splits of the dataset index.",
)

MONO_TEXT = (
    ("test accuracy (Section 4.1)", "accuracy"),
    ("test loss (Section 4.1)", "loss"),
    ("epochs (Section 4.1)", "epochs"),
)

TABLE3 = TableSpec(
    name="table3",
    caption="Monophonic baseline f1-score per class (plus the test accuracy, loss and epochs stated in Section 4.1).",
    dataset=MONO,
    model_columns=(("f1-score (Baseline)", "mono_baseline"), ("Proposed", "mono_proposed")),
    stat_columns=(),
    rows=tuple((c, c) for c in MONO_CLASSES),
    f1_scale=0.01,
    text_metrics=MONO_TEXT,
    # the paper prints per-class F1 of the baseline only
    unprinted=tuple((c, "mono_proposed") for c in MONO_CLASSES),
    units="Clip F1, accuracy on a 0-1 scale; loss = mean categorical cross-entropy on the test clips.",
    metric="clip_f1",
)

TABLE4 = TableSpec(
    name="table4",
    caption="Polyphonic model results (TUT-SED Synthetic 2016).",
    dataset=POLY,
    model_columns=POLY_MODELS,
    stat_columns=(),
    rows=(),
    layout=MODELS_LAYOUT,
    metric_columns=(
        ("Accuracy", "accuracy"),
        ("Loss", "loss"),
        ("Training time (min)", "train_time_min"),
        ("f1-score", "micro_f1"),
        ("Number of parameters", "parameters"),
        ("Dimension (KB)", "size_kb"),
    ),
    text_metrics=(("epochs (Section 4.2)", "epochs"),),
    # Section 4.2 gives no epoch count for the max-pooling variant
    unprinted=(("Proposed Model max pooling", "epochs (Section 4.2)"),),
    ratio_columns=(("Training time / Baseline's", "time_ratio", "train_time_min"),),
    ratio_reference="dnd_baseline",
    # a reproduced run of seconds is 0.3 min, not 0; the paper prints no ratio (its decimals are these)
    min_decimals=(("train_time_min", 1), ("time_ratio", 2)),
    units="Accuracy = binary accuracy over (frame, class) cells, loss = mean binary cross-entropy, f1-score = "
    "frame-level micro F1, all on the test split; training time in minutes; dimension = size on disk of the "
    "saved model in KB (1 KB = 1024 bytes).",
)

FIGURES = (
    FigureSpec("figure1", "Audio duration distribution (UrbanSound8K)", "clip_durations", MONO),
    FigureSpec(
        "figure4",
        "Histogram of event durations (TUT-SED Synthetic 2016; the paper's caption, 'Decision "
        "trees assembly only confusion matrix', is a copy error, the text calls it the histogram of lengths)",
        "event_durations",
        POLY,
    ),
    FigureSpec(
        "figure9", "Baseline training graphs (monophonic)", "curves", MONO, (MONO_MODELS[0],), ("accuracy", "loss")
    ),
    FigureSpec(
        "figure10",
        "Proposed model training graphs (monophonic)",
        "curves",
        MONO,
        (MONO_MODELS[1],),
        ("accuracy", "loss"),
    ),
    FigureSpec(
        "figure11", "Baseline training graphs (polyphonic)", "curves", POLY, (POLY_MODELS[0],), ("accuracy", "loss")
    ),
    FigureSpec("figure12", "Dilated model training graphs", "curves", POLY, (POLY_MODELS[1],), ("accuracy", "loss")),
    FigureSpec("figure13", "Dessed model training graphs", "curves", POLY, (POLY_MODELS[2],), ("accuracy", "loss")),
    FigureSpec("figure14", "Proposed model accuracy comparison", "compare", POLY, POLY_MODELS[3:], ("accuracy",)),
    FigureSpec("figure15", "Proposed model loss comparison", "compare", POLY, POLY_MODELS[3:], ("loss",)),
)

HARDWARE = (
    "Paper: Keras, trained on Google Colab and on a Ryzen 7 3700X with an AMD RX 5700 GPU (PlaidML), "
    "Section 4; the paper does not say which machine each Table 4 time comes from."
)

NOTES = (
    "Split: the paper's 60/20/20 over clips for UrbanSound8K (not the official 10-fold protocol, so slices of one "
    "recording can be in train and test); for TUT-SED Synthetic 2016 the official train/validate/test lists.",
    "Framework: PyTorch re-implementation of the paper's Keras models (src/sedrepro/models/dnd.py); the dilated "
    "convolution with (1,3) stride follows the paper's workaround (1x1 convolution or max pooling after it).",
    "Monophonic input: librosa MFCCs padded to 174 frames as the paper says, although librosa yields at most 173 "
    "frames for 4 s at 22,050 Hz with hop 512 (the 174th is padding).",
    "Model size: reproduced 'Dimension' is the file size of the best epoch's PyTorch state_dict (float32 weights), "
    "not a Keras .h5 file; KB = 1024 bytes.",
    "Table 4 labels the last model 'avg pooling'; its text (Section 4.2) describes max pooling, which is the model "
    "built here (dnd_proposed_maxpool), so the row reads 'max pooling'.",
    HARDWARE,
)

# What the audit cannot check from the paper.
NOT_CHECKABLE = (
    "Table 3 and Table 4 scores: no per-class counts or confusion matrices are printed, so no aggregate can be "
    "recomputed; Table 3 has no average row.",
    "Which machine (Colab or the local RX 5700) each Table 4 training time comes from.",
)

PAPER = register(
    Paper(
        name="dessed",
        tables=(TABLE1, TABLE2, TABLE3, TABLE4),
        figures=FIGURES,
        notes=NOTES,
        not_checkable=NOT_CHECKABLE,
        # the total the text states for each count table's column
        count_totals={
            "table1": TextCell("text", "UrbanSound8K clips", "count"),
            "table2": TextCell("text", "TUT-SED Synthetic 2016 events", "count"),
        },
        # Table 2's event counts against the hypernetworks paper's Table 1 durations (same dataset)
        cross_paper_events=CrossPaperEvents("hypernetworks", "table1", "table2"),
        annotation_counts="table2",
        size_table=SizeCheck("table4", "parameters", "size_kb"),
        # the first audit's claims about Table 4 (ratios, reductions, times in words) are its value / ratio / reduction
        # lines
        text_claims="config/paper_values/dessed_claims.tsv",
    )
)
