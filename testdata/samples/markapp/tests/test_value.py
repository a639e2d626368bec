import markapp


def test_value():
    assert markapp.VALUE == 42
