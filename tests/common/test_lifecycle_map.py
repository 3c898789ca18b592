"""The transition map every lifecycle shares: what it allows and how it explains a refusal."""

import pytest

from common.errors import DomainError, InvalidTransition
from common.lifecycle import TransitionMap

DOOR = TransitionMap("door", {"open": {"closed"}, "closed": {"open", "locked"}, "locked": set()})


def test_allowed_moves_pass():
    assert DOOR.can("open", "closed")
    assert DOOR.can("closed", "locked")
    DOOR.check("closed", "open")


def test_allowed_from_lists_the_moves_and_nothing_for_an_unknown_state():
    assert DOOR.allowed_from("closed") == frozenset({"open", "locked"})
    assert DOOR.allowed_from("ajar") == frozenset()


def test_a_refused_move_names_the_allowed_ones():
    with pytest.raises(InvalidTransition) as raised:
        DOOR.check("open", "locked")
    assert (
        raised.value.message == "door cannot move from open to locked (allowed from open: closed)"
    )
    assert raised.value.code == "invalid_transition"
    assert raised.value.status_code == 409


def test_a_move_from_a_final_state_says_it_is_final():
    assert not DOOR.can("locked", "open")
    with pytest.raises(InvalidTransition) as raised:
        DOOR.check("locked", "open")
    assert raised.value.message == "door cannot move from locked to open (locked is final)"


def test_moves_are_listed_in_a_stable_order():
    with pytest.raises(InvalidTransition) as raised:
        DOOR.check("closed", "closed")
    assert raised.value.message == (
        "door cannot move from closed to closed (allowed from closed: locked, open)"
    )


def test_domain_errors_carry_a_code_and_the_field():
    error = DomainError("an address needs a street", field="street")
    assert error.as_dict() == {
        "code": "domain_error",
        "detail": "an address needs a street",
        "field": "street",
    }
    assert DomainError("no", code="custom").as_dict() == {"code": "custom", "detail": "no"}
