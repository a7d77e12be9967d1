import pytest

from layerlens.cli import main


def test_demo_trains_saves_and_says_where(tmp_path, capsys):
    assert main(["demo", "--models", str(tmp_path / "m"), "--only", "faces"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "m" / "faces.keras").is_file()
    assert "faces     test accuracy" in out
    assert f"Models saved in {(tmp_path / 'm').resolve()}" in out


def test_demo_rejects_unknown_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--models", str(tmp_path), "--only", "cifar"])
    assert exit_info.value.code == 2
    assert "names: expected names from ('mnist', 'phantoms', 'faces'); received unknown ['cifar']" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("layerlens ")
