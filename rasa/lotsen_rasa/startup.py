"""Start-up costs of loading a Rasa model that Lotsen avoids. Runs in the Rasa environment.

Loading a model with a LogisticRegressionClassifier imports `skops.io`, whose import builds
the list of trusted scikit-learn and NumPy types by looking up, for each of about 770 types,
its module among *all* loaded modules (`skops.io._utils.whichmodule`). After Rasa and
TensorFlow are imported that is some 6,000 modules, and the import alone costs about 5 s of
CPU (measured with cProfile: 1.2 million `getattr`s, most of `lotsen route`'s start-up).
Imported before Rasa, when few modules are loaded, the same list costs about a second. The
result is the same: the trusted types are named by their public module either way.
"""


def import_skops_first() -> None:
    """Import `skops.io` before Rasa (call first thing in a process that loads a model)."""
    import skops.io  # noqa: F401
