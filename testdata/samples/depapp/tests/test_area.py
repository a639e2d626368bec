import depapp


def test_area_doubled():
    # 3 * 4 by the C extension, doubled by the sdist-only dependency.
    assert depapp.area_doubled(3, 4) == 24


def test_with_mocker(mocker):
    # The mocker fixture is pytest-mock's: the plugin was installed.
    mocker.patch("depsdist.double", return_value=7)
    assert depapp.area_doubled(3, 4) == 7
