import athena
from main import run

_ARRANGED: list[bool] = []


def _arrange() -> None:
    if _ARRANGED:
        return
    _ARRANGED.append(True)
    athena.remember("The request timeout of the gateway is 30 seconds")
    athena.remember("Customer data is never stored outside the EU")
    athena.remember("The gateway runs three replicas")


def test_a_matching_fact_supports_a_statement() -> None:
    _arrange()
    result = run("the gateway request timeout is 30 seconds")
    assert result["verdict"] == "supported"
    assert [f["text"] for f in result["supporting"]] == [
        "The request timeout of the gateway is 30 seconds"]


def test_other_numbers_contradict() -> None:
    _arrange()
    result = run("The gateway request timeout is 60 seconds")
    assert result["verdict"] == "contradicted"
    assert result["contradicting"][0]["reason"] == "different numbers"


def test_negation_contradicts() -> None:
    _arrange()
    result = run("customer data is stored outside the EU")
    assert result["verdict"] == "contradicted"
    assert result["contradicting"][0]["text"] == "Customer data is never stored outside the EU"


def test_an_unrelated_statement_is_unknown() -> None:
    _arrange()
    assert run("lunch is served at noon")["verdict"] == "unknown"
