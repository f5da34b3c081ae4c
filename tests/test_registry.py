import pytest

from sedrepro.io import InputError
from sedrepro.registry import Registry, load_plugins


def test_register_get_and_names():
    reg = Registry("metric")
    reg.register("b", 2)

    @reg.register("a")
    def part():
        return 1

    assert reg.get("a") is part and reg.get("b") == 2
    assert reg.names() == ("a", "b") and "a" in reg and "c" not in reg and len(reg) == 2


def test_unknown_name_is_one_line_naming_the_known_ones():
    reg = Registry("architecture")
    reg.register("crnn", object())
    with pytest.raises(InputError) as err:
        reg.get("crn", "config key models[0].architecture")
    assert str(err.value) == "config key models[0].architecture: expected a registered architecture (crnn), found 'crn'"


def test_a_name_registered_twice_is_an_error():
    reg = Registry("paper")
    reg.register("x", 1)
    reg.register("x", 1)  # the same object again (a module imported twice) is harmless
    with pytest.raises(ValueError, match="paper 'x' is registered twice"):
        reg.register("x", 2)
    with pytest.raises(ValueError):
        reg.register("", 3)


def test_load_plugins_imports_or_names_the_module():
    load_plugins(["json"])
    with pytest.raises(InputError, match="config key plugins: expected an importable module, found 'no_such_mod_xyz'"):
        load_plugins(["no_such_mod_xyz"])
