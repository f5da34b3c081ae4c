"""File names of what the torch stages write (features, train, predict), in a module without torch: the workflow
(sedrepro.workflow, rules/*.smk) names the rules' outputs from these, and importing torch costs seconds at every
Snakemake start and cluster job step. The stage modules re-export them; torch-free stages keep their own."""

# features: what the stage writes into its --out folder
FEATURES_FILE, FRAMES_FILE, INFO_FILE = "features.npy", "frames.tsv", "features.json"
# train: what a finished run publishes in its --run-dir
HISTORY_FILE, SUMMARY_FILE, CHECKPOINTS_DIR = "history.csv", "train.json", "checkpoints"
# predict: the run's folder the rules give the stage as --out
PREDICTIONS_DIR = "predictions"
