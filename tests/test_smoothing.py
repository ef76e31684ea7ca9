from gestured.runtime.smoothing import Debouncer, SmoothingSettings

SETTINGS = SmoothingSettings(
    stable_seconds=0.5, min_votes_fraction=0.8, rearm_seconds=1.0
)
FPS = 10


def feed(labels: list[str | None], start: float = 0.0) -> list[tuple[int, str]]:
    debouncer = Debouncer(SETTINGS)
    events = []
    for index, label in enumerate(labels):
        stable = debouncer.update(start + index / FPS, label, 0.9)
        if stable is not None:
            events.append((index, stable.label))
    return events


def test_held_gesture_sends_one_event():
    assert feed(["five"] * 30) == [(5, "five")]


def test_short_gesture_sends_nothing():
    assert feed(["five"] * 4 + [None] * 10) == []


def test_flicker_between_gestures_sends_nothing():
    assert feed(["one", "two"] * 10) == []


def test_single_wrong_frame_is_tolerated():
    labels = ["two"] * 3 + ["three"] + ["two"] * 10
    assert feed(labels) == [(5, "two")]


def test_change_of_gesture_rearms():
    labels = ["one"] * 10 + ["two"] * 10 + ["one"] * 10
    assert [label for _, label in feed(labels)] == ["one", "two", "one"]


def test_hand_leaving_rearms_same_gesture():
    labels = ["fist"] * 10 + [None] * 12 + ["fist"] * 10
    assert [label for _, label in feed(labels)] == ["fist", "fist"]


def test_brief_dropout_does_not_rearm():
    labels = ["fist"] * 10 + [None] * 3 + ["fist"] * 10
    assert [label for _, label in feed(labels)] == ["fist"]


def test_settings_change_applies():
    debouncer = Debouncer(SETTINGS)
    debouncer.settings = SmoothingSettings(stable_seconds=1.0)
    events = [debouncer.update(i / FPS, "ok", 0.9) for i in range(15)]
    fired = [i for i, event in enumerate(events) if event is not None]
    assert fired == [10]
