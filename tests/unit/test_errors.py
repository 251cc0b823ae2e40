import pytest

from headstart.errors import ConfigError, DataError, HeadstartError, LabelError, ModelLoadError, OutputExistsError


def test_message_has_expected_found_fix_and_location():
    err = DataError("a label column", found="columns ['a']", fix="name it with --label-column", file="x.csv", line=3)
    assert str(err) == "x.csv:3: expected a label column; found columns ['a']; name it with --label-column"
    assert (err.file, err.line) == ("x.csv", 3)


@pytest.mark.parametrize(
    "cls, base",
    [
        (ConfigError, ValueError),
        (DataError, ValueError),
        (LabelError, DataError),
        (ModelLoadError, OSError),
        (OutputExistsError, FileExistsError),
    ],
)
def test_errors_are_typed(cls, base):
    err = cls("something")
    assert isinstance(err, base) and isinstance(err, HeadstartError)
