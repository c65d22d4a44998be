"""A "tiny" parameter set per chapter: every notebook must run with it under papermill.

Small data and one epoch, so the chapter's findings (which need its default sizes) are not
checked (``check_findings = False``), but every invariant is; and a value of p other than the
default, so that prose which does not follow the parameters shows up.
"""

SMALL = {"n_train": 1500, "n_test": 500}

TINY: dict[str, dict] = {
    "01_task_and_architecture": {**SMALL, "p": 0.001, "epochs": 1, "check_findings": False},
    "02_structural_modularity": {"p": 0.05, "n_sweep": 4, "n_curve": 20},
    "03_deep_r": {**SMALL, "p": 0.001, "p_compare": 0.1, "epochs": 1, "check_findings": False},
    "04_bottleneck_metric": {**SMALL, "p_values": [0.001, 0.1], "epochs": 1, "bottleneck_epochs": 1,
                             "check_findings": False},
    "05_weight_mask_metric": {**SMALL, "p_values": [0.001, 0.1], "epochs": 1, "mask_epochs": 1,
                              "check_findings": False},
    "06_correlation_metric": {**SMALL, "p_values": [0.001, 0.1], "epochs": 1, "cka_repeats": 1,
                              "check_findings": False},
    "07_results": {"results_path": "results/absent.csv", "authors_rate_path": "results/absent.csv",
                   "low_rate_path": "results/absent.csv", "authors_path": "results/absent.csv",
                   "fallback_p": [1e-4, 1.0], "fallback_n_train": 1000, "fallback_epochs": 1,
                   "check_findings": False},
    "08_sweep_chunk": {"progress": False},
    "09_bandwidth": {"results_path": "results/absent.csv", "fallback_bits": [0, 1], "fallback_p": [0.001, 0.1],
                     "fallback_n_train": 600, "fallback_epochs": 1, "check_findings": False},
    "10_cells": {"results_path": "results/absent.csv", "fashion_path": "results/absent.csv",
                 "paper_path": "results/absent.csv", "fallback_cells": ["rnn", "gru"],
                 "fallback_p": [0.001, 0.1], "fallback_n_train": 600, "fallback_epochs": 1,
                 "check_findings": False},
    "11_resources": {"resources_path": "results/absent.csv", "separability_path": "results/absent.csv",
                     "fallback_sizes": [10], "fallback_covariances": [0.5], "fallback_p": [0.001, 0.1],
                     "fallback_n_train": 600, "fallback_epochs": 1, "check_findings": False},
    "12_over_time": {"results_path": "results/absent.csv", "fallback_bits": [0, 2], "fallback_p": [0.001, 0.1],
                     "fallback_n_train": 600, "fallback_epochs": 1, "check_findings": False},
}
