"""How this process runs deep recursions (`call_with_frame_room`) and lets go of many objects
(`free_in_background`)."""

from __future__ import annotations

import resource
import sys
import weakref

import pytest

from briefing.process import call_with_frame_room, free_in_background

DEPTH = 400  # frames; well past the first 16 KiB of CPython's frame stack
ROUNDS = 2_000


def down(depth: int) -> int:
    return 0 if depth == 0 else down(depth - 1)


def back_and_forth() -> int:
    """Page faults taken while recursing down and back ROUNDS times."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(ROUNDS):
        down(DEPTH)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython's frame stack")
def test_a_recursion_with_frame_room_takes_no_new_memory_each_time():
    """Without the room, each round maps a fresh chunk for the frames past the first 16 KiB and
    unmaps it on the way back: several page faults a round."""
    assert call_with_frame_room(back_and_forth) < ROUNDS // 10


def test_the_call_gets_its_arguments_and_gives_back_its_result_or_error():
    assert call_with_frame_room(divmod, 17, 5) == (3, 2)
    assert call_with_frame_room(sorted, [3, 1, 2], reverse=True) == [3, 2, 1]
    with pytest.raises(ZeroDivisionError):
        call_with_frame_room(divmod, 1, 0)


class Held:
    """An object that can be watched going (a weak reference to it dies with it)."""


def test_objects_freed_in_background_are_gone_once_it_ends():
    objects = [Held() for _ in range(2_500)]
    watched = [weakref.ref(objects[0]), weakref.ref(objects[1_234]), weakref.ref(objects[-1])]

    free_in_background(objects).join()

    assert objects == []
    assert [ref() for ref in watched] == [None, None, None]
