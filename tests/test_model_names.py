"""Names go into generated source: a model's, column's, system's or function's name
never runs as code, and names that Python would read as one are refused."""

import pytest
from numba import njit

from dod_sim import Column, ConfigError, Model, ModelWorld, Rows


@njit
def _step(i, key, p, x):
    return x[i] + 1


def _model(name="m", column="x", system="step", fn=_step):
    return Model(name, columns=[Column(column, "int64", 0)],
                 systems=[Rows(system, fn, reads=(column,), writes=(column,))])


def test_a_model_name_never_runs_as_code(tmp_path, monkeypatch):
    monkeypatch.setenv("DOD_SIM_MODEL_CACHE", str(tmp_path))
    marker = tmp_path / "pwned"
    name = f'x"""; open("{marker}", "w").close(); """'
    try:
        ModelWorld(_model(name=name), 10, threads=1).run(1)
    except ConfigError as e:
        assert e.field == "name"
    assert not marker.exists()


def test_names_equal_after_nfkc_are_refused():
    with pytest.raises(ConfigError) as info:
        Model("m", columns=[Column("fi", "int64", 0), Column("\ufb01", "int64", 0)])
    assert "NFKC" in str(info.value)


@pytest.mark.parametrize("system", ["a b", "x\nimport os", "", 5])
def test_a_system_name_is_an_identifier(system):
    with pytest.raises(ConfigError) as info:
        _model(system=system)
    assert info.value.field == "systems"


def test_a_function_qualname_never_runs_as_code(tmp_path, monkeypatch):
    monkeypatch.setenv("DOD_SIM_MODEL_CACHE", str(tmp_path))
    marker = tmp_path / "pwned2"

    def step(i, key, p, x):
        return x[i] + 2
    step.__qualname__ = f"s\nopen({str(marker)!r}, 'w').close()"
    fn = njit(step)
    w = ModelWorld(_model(name="qual", fn=fn), 10, threads=1)
    w.run(1)
    assert not marker.exists() and int(w.columns["x"][0]) == 2


@pytest.mark.parametrize("make, field", [
    (lambda: Column(1, "int64"), "columns"),
    (lambda: Model("m", columns=[Column("x", "nope")]), "columns.x.dtype"),
    (lambda: _model().__class__("m", columns=[Column("x", "int64")],
                                systems=[Rows("s", _step, reads=5, writes=("x",))]),
     "systems.s.reads"),
])
def test_bad_declarations_are_config_errors(make, field):
    with pytest.raises(ConfigError) as info:
        make()
    assert info.value.field == field
