import pytest
from sklearn.metrics import f1_score

from headstart.tasks.common.metrics import classification_metrics, scalar_metrics


def test_binary_scores_match_hand_computation():
    m = classification_metrics([0, 1, 1, 1, 0], [0, 1, 0, 1, 1], ["neg", "pos"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["positive_label"] == "pos"
    assert m["per_class"]["neg"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]


def test_multiclass_macro_micro_agree_with_sklearn():
    yt, yp = [0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 2, 1, 1, 0]
    m = classification_metrics(yt, yp, ["a", "b", "c"])
    assert m["f1_macro"] == pytest.approx(f1_score(yt, yp, average="macro"))
    assert m["f1_micro"] == pytest.approx(m["accuracy"])
    assert "f1" not in m


def test_class_absent_from_predictions_scores_zero_without_warning():
    m = classification_metrics([0, 1], [0, 0], ["a", "b"])
    assert m["per_class"]["b"]["precision"] == 0.0


def test_scalar_metrics_drops_nested_values():
    assert set(scalar_metrics({"accuracy": 1.0, "n": 3, "per_class": {}, "positive_label": "x"})) == {"accuracy"}


@pytest.mark.parametrize("names", [["a", "b"], ["a", "b", "c"]])
def test_task_metric_names_match_what_it_reports(names):
    import numpy as np
    from transformers import EvalPrediction

    from headstart.config import RunConfig
    from headstart.data.labels import LabelSet
    from headstart.tasks import get_task

    task, labels = get_task("text-classification"), LabelSet(names)
    prediction = EvalPrediction(predictions=np.eye(len(names)), label_ids=np.arange(len(names)))
    reported = task.train_metrics(prediction, labels, RunConfig())
    assert set(task.metric_names(labels)) == set(reported)
