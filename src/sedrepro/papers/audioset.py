"""Xu, "Audio Event Recognition" (SJTU ACM Honored Class course report; /work/shared/papers: audioset-event-recognition).

Classifiers of AudioSet's released 128-d embeddings (10 frames per segment, 527 classes, sigmoid cross-entropy):
Table 2 compares frameworks (the PyTorch column is reproduced on the residual network the report times; the
TensorFlow and MXNet columns are cited), Table 3 the fully connected, residual and convolutional networks and the
ensemble averaging their scores, Table 4 the two networks trained on the big (unbalanced) set; Figures 2-6 are training
curves over dropout, L2 weight decay, small vs big data, initial weight scale and width, each sweep one config list.
"""

from __future__ import annotations

from . import MODELS_LAYOUT, FigureSpec, Paper, TableSpec, register

DATASET = "audioset"
EVALUATION_SET = "eval"
# The report's "area under the ROC convex hull" (sedrepro.metrics roc_auc_hull; scikit-learn's roc_auc is in
# metrics.json beside it) and "area under precision-recall curve" (average_precision), macro averages.
AUC, AP, DPRIME = "roc_auc_hull@Average", "average_precision@Average", "d_prime"
UNITS = (
    "AUC = area under the convex hull of each class's ROC, AP = average precision (scikit-learn), each the "
    "unweighted mean over the classes with positives in AudioSet's eval set; d' = sqrt(2) Phi^-1(mean ROC AUC) (not "
    "printed by the report)."
)

TABLE2 = TableSpec(
    name="table2",
    caption="Comparison of different frameworks",
    dataset=DATASET,
    model_columns=(("Pytorch", "as_residual"),),
    stat_columns=(),
    rows=(),
    layout=MODELS_LAYOUT,
    metric_columns=(("Performance(AUC)", AUC), ("Performance(AP)", AP), ("Speed (min)", "train_time_min")),
    cited_rows=(
        ("Tensorflow", "the report's own TensorFlow implementation of the same network"),
        ("Mxnet", "the report's own MXNet implementation of the same network"),
    ),
    metric="roc_auc_hull",
    evaluation_set=EVALUATION_SET,
    min_decimals=(("train_time_min", 2),),
    units=UNITS + " Speed: minutes of training (the report prints 2m33s, 2m13s, 2m14s; its hardware is not named).",
)

TABLE3 = TableSpec(
    name="table3",
    caption="Performance of different architecture",
    dataset=DATASET,
    model_columns=(
        ("fully-connected", "as_fc"),
        ("residual", "as_residual"),
        ("convolution", "as_conv"),
        ("ensemble", "as_ensemble"),
    ),
    stat_columns=(),
    rows=(),
    layout=MODELS_LAYOUT,
    metric_columns=(("AUC", AUC), ("AP", AP), ("d'", DPRIME)),
    unprinted=tuple((label, DPRIME) for label in ("fully-connected", "residual", "convolution", "ensemble")),
    metric="roc_auc_hull",
    evaluation_set=EVALUATION_SET,
    units=UNITS,
)

TABLE4 = TableSpec(
    name="table4",
    caption="Performance of big data",
    dataset=DATASET,
    model_columns=(("fully-connected", "as_fc_big"), ("residual", "as_residual_big")),
    stat_columns=(),
    rows=(),
    layout=MODELS_LAYOUT,
    metric_columns=(("AUC", AUC), ("AP", AP), ("d'", DPRIME)),
    unprinted=(("fully-connected", DPRIME), ("residual", DPRIME)),
    metric="roc_auc_hull",
    evaluation_set=EVALUATION_SET,
    units=UNITS + " Trained on unbal_train (the report's big data, about 2M segments).",
)

# Training curves: validation loss (and the training loss where recorded) and validation mean average precision per
# epoch (history.csv val_ap); the report does not say what its curves plot.
CURVES = ("loss", "ap")
FIGURES = (
    FigureSpec(
        "figure2",
        "The effect of different dropout rate",
        "compare",
        DATASET,
        metrics=CURVES,
        sweep=("as_dropout", "dropout"),
    ),
    FigureSpec(
        "figure3",
        "The effect of different regularization rate",
        "compare",
        DATASET,
        metrics=CURVES,
        sweep=("as_l2", "training.weight_decay"),
    ),
    FigureSpec(
        "figure4",
        "The effect of using big data",
        "compare",
        DATASET,
        (("small data", "as_fc"), ("big data", "as_fc_big")),
        CURVES,
    ),
    FigureSpec(
        "figure5",
        "The effect of different weightscale",
        "compare",
        DATASET,
        metrics=CURVES,
        sweep=("as_scale", "weight_scale"),
    ),
    FigureSpec(
        "figure6", "The effect of different width", "compare", DATASET, metrics=CURVES, sweep=("as_width", "width")
    ),
)

NOTES = (
    "Layout: the report prints models (and frameworks) as columns and scores as rows; here each model is a row.",
    "Table 2's text rows, as the report words them: Difficulty to get started: Tensorflow difficult, Pytorch easy, "
    "Mxnet easy; API: Tensorflow good, Pytorch medium, Mxnet bad. The report times 'the ResNet model' in every "
    "framework: the reproduced Pytorch row is the residual network of Table 3.",
    "AUC: the report defines it as 'the area under the ROC convex hull', reproduced as such (roc_auc_hull); "
    "scikit-learn's roc_auc_score (the area under the ROC itself, which the hull's area never falls below, "
    "tests/test_metrics_tags.py) is in metrics.json as roc_auc, and d' is computed from its mean as the peer code "
    "(qiuqiangkong/audioset_classification) does.",
    "Classes without positives in the evaluation set are skipped in the averages and counted in metrics.json (notes "
    "of roc_auc_hull, roc_auc, average_precision) and in the notes below.",
    "Networks (the report gives no sizes, orders or initialiser; ours, src/sedrepro/models/embedding.py): fully "
    "connected = the 10 x 128 frames flattened, one hidden layer (the report's 'two-layer vanilla fully-connected "
    "network'); residual = an input layer and two residual blocks; convolution = two Conv1d layers over the frames, "
    "max over frames, one hidden layer; weights N(0, weight_scale^2), biases zero; ensemble = the mean of the three "
    "networks' scores.",
    "Training (not stated by the report): Adam, learning rate 1e-3, sigmoid cross-entropy, the checkpoint with the "
    "lowest validation loss scored; validation = a seeded 10 % of bal_train (the report's X_eval 'splitted from the "
    "origin dataset'); small data = the rest of bal_train, big data = unbal_train; test = AudioSet's eval set.",
    "Features: the embeddings as shipped (uint8) dequantised by the exact inverse of VGGish's quantisation "
    "(q * 4/255 - 2); segments shorter than 10 s padded with zeros after dequantisation; no normalisation.",
    "Figures 2, 3, 5, 6: the report gives neither the swept values nor the curves' axes; the values are ours, one "
    "run and one curve per value of the config's sweep (models as_dropout, as_l2, as_scale, as_width: dropout "
    "rate, Adam weight decay = L2 coefficient, standard deviation of the initial weights, hidden units), each curve "
    "the validation loss (solid; training loss dashed) and validation mean average precision per epoch.",
)

NOT_CHECKABLE = (
    "Table 2's TensorFlow and MXNet columns and its text rows (difficulty, API): the report's own experience, cited.",
    "Table 2's speed: the report does not name its hardware or number of epochs; the reproduced time is this run's, "
    "on the hardware named in the notes.",
    "Figures 2-6: the report's swept values and axes are not given, so the curves cannot be compared point by point.",
)

PAPER = register(
    Paper(
        name="audioset",
        tables=(TABLE2, TABLE3, TABLE4),
        figures=FIGURES,
        notes=NOTES,
        not_checkable=NOT_CHECKABLE,
        text_claims="config/paper_values/audioset_claims.tsv",
    )
)
