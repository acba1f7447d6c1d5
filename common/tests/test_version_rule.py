"""The version rule every replica follows (DESIGN §4): n+1 only on top of n."""

import pytest

from ticketing.common.versions import EventOutOfOrder, should_apply


@pytest.mark.parametrize(("local", "incoming"), [(0, 1), (4, 5)])
def test_the_next_version_applies(local: int, incoming: int) -> None:
    assert should_apply(local, incoming) is True


@pytest.mark.parametrize(("local", "incoming"), [(1, 1), (3, 1)])
def test_a_version_the_replica_already_has_is_a_duplicate(local: int, incoming: int) -> None:
    assert should_apply(local, incoming) is False


@pytest.mark.parametrize(("local", "incoming"), [(0, 2), (None, 1), (None, 0)])
def test_a_version_further_ahead_or_of_an_unknown_aggregate_is_early(
    local: int | None, incoming: int
) -> None:
    with pytest.raises(EventOutOfOrder):
        should_apply(local, incoming)
