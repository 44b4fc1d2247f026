"""canonical_mode: the one check every mode value passes (legacy names warn, unknown ones fail)."""
import logging

import pytest

from espnet_durep.modes import FULL, LOOKAHEAD, MODES, STREAMING, canonical_mode


def test_the_vocabulary():
    assert (FULL, STREAMING, LOOKAHEAD) == ("full", "streaming", "lookahead")
    assert MODES == (FULL, STREAMING)


@pytest.mark.parametrize("value", ["full", "streaming"])
def test_allowed_values_pass_unchanged_and_silently(value, recwarn):
    assert canonical_mode(value, "mode") == value
    assert not recwarn.list


def test_the_legacy_name_is_translated_with_a_warning_and_a_log_line(caplog):
    option = "test_modes.option_that_no_other_test_uses"
    with caplog.at_level(logging.WARNING):
        with pytest.warns(DeprecationWarning, match=f"{option}: 'stream' is deprecated, write 'streaming' instead"):
            assert canonical_mode("stream", option) == STREAMING
    assert f"{option}: 'stream' is deprecated, write 'streaming' instead" in caplog.text
    with pytest.warns(DeprecationWarning):  # every call still warns; the log says it once
        assert canonical_mode("stream", option, ("streaming", "lookahead")) == STREAMING


@pytest.mark.parametrize("value, allowed", [
    ("offline", MODES),
    ("stream", (FULL,)),          # a legacy name whose new name is not allowed here
    ("full", ("streaming", "lookahead")),
    (None, MODES),
    (["streaming"], MODES),
])
def test_anything_else_is_an_error_naming_the_option_the_value_and_the_choices(value, allowed):
    with pytest.raises(ValueError) as error:
        canonical_mode(value, "model_conf.some_option", allowed)
    assert str(error.value) == f"model_conf.some_option must be one of {tuple(allowed)}, got {value!r}"
