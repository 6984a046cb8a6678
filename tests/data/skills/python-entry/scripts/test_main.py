from main import run


def test_most_common_words_come_first() -> None:
    assert run("b a b c b a", top=2) == [["b", 3], ["a", 2]]
