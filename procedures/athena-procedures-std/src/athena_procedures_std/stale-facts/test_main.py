import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    athena.remember("The VPN certificate is valid", metadata={"expires": "2001-05-01"})
    athena.remember("Ana leads the data team", metadata={"review_by": "2999-01-01"})
    athena.remember("The wiki lives at wiki.internal", metadata={"review_by": "soon"})


def test_facts_past_their_expiry_date_are_stale_now() -> None:
    _arrange()
    stale = {fact["text"]: fact["reasons"] for fact in run()}
    assert stale == {"The VPN certificate is valid": ["expires 2001-05-01 has passed"],
                     "The wiki lives at wiki.internal": ["review_by is not a date"]}


def test_old_facts_are_stale_later() -> None:
    _arrange()
    stale = run(older_than_days=30, now="2999-06-01T00:00:00+00:00")
    assert len(stale) == 3
    lead = next(fact for fact in stale if fact["text"] == "Ana leads the data team")
    assert lead["reasons"][0].startswith("not written for")
    assert lead["reasons"][1] == "review_by 2999-01-01 has passed"
    assert lead["age_days"] > 30


def test_a_long_threshold_keeps_only_dated_facts() -> None:
    _arrange()
    stale = run(older_than_days=10 ** 6, now="2999-06-01T00:00:00+00:00")
    assert len(stale) == 3 and all("not written" not in " ".join(f["reasons"])
                                   for f in stale)


def test_written_times_come_oldest_first() -> None:
    _arrange()
    written = [fact["written"] for fact in run(older_than_days=0)]
    assert len(written) == 3 and written == sorted(written)
