from main import run


def test_the_most_frequent_words_come_first() -> None:
    text = "Deploys fail when the cache is cold. Warm the cache before deploys; deploys!"
    assert run(text, k=2) == ["deploys", "cache"]


def test_stop_words_and_case_are_ignored() -> None:
    assert run("The THE the Backup backup", k=5) == ["backup"]


def test_ties_keep_the_order_of_first_use() -> None:
    assert run("zebra apple zebra apple mango") == ["zebra", "apple", "mango"]


def test_an_empty_text_has_no_words() -> None:
    assert run("") == []


def test_k_must_be_positive() -> None:
    try:
        run("anything", k=0)
    except ValueError:
        return
    raise AssertionError("k=0 was accepted")
