"""Query parameters read by hand: whole numbers and page cursors that the database could hold, or a 400."""

import pytest
from litestar.exceptions import ValidationException

from app.web.params import fits_column, int_param, keyset_param

HUGE = "99999999999999999999"


def test_int_and_keyset_params_refuse_what_no_column_holds():
    assert int_param({"list_id": " 12 "}, "list_id") == 12 and int_param({}, "list_id") is None
    assert keyset_param({"after": "a@b.example|42"}) == ("a@b.example", 42)
    assert keyset_param({"after": f"x|{2**63 - 1}"}) == ("x", 2**63 - 1)
    for params, read in (({"list_id": "2147483648"}, lambda p: int_param(p, "list_id")),
                         ({"tag_id": "abc"}, lambda p: int_param(p, "tag_id")),
                         ({"after": "a|abc"}, keyset_param), ({"after": f"a|{HUGE}"}, keyset_param),
                         ({"after": "no-bar"}, keyset_param)):
        with pytest.raises(ValidationException):
            read(params)


def test_bigserial_parameters_take_bigint_ids_and_the_rest_integers():
    assert fits_column("subscriber_id", 2**40) and fits_column("before", 2**63 - 1)
    assert not fits_column("list_id", 2**31) and fits_column("list_id", 2**31 - 1)
    assert not fits_column("subscriber_id", 2**63)
